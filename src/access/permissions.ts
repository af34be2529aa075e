/**
 * Who may do what: the one table of roles and the token scopes each carries. A signed-in
 * user acts with exactly these scopes, so `ctx.auth(scope)` guards people and API tokens alike.
 * The README's "People and access" table is rendered from this (a test keeps them equal).
 */
import type { Scope } from "../tokens/store.ts";

export const ROLES = ["owner", "admin", "responder", "support", "finance", "viewer"] as const;
export type Role = (typeof ROLES)[number];

export const ROLE_PERMISSIONS: Record<Role, { scopes: readonly Scope[]; who: string }> = {
  owner: { scopes: ["*"], who: "everything, including approving money and managing owners" },
  admin: {
    scopes: [
      "read",
      "components:write",
      "incidents:write",
      "notifications:write",
      "monitors:write",
      "protocols:start",
      "data:write",
      "compensation:write",
      "tokens:write",
      "users:write",
      "settings:write",
      "audit:read",
    ],
    who: "runs the workspace: people, tokens, settings, everything but approving money",
  },
  responder: {
    scopes: [
      "read",
      "components:write",
      "incidents:write",
      "notifications:write",
      "monitors:write",
      "protocols:start",
    ],
    who: "on call: incidents, maintenance, components, monitors, protocols, notifications",
  },
  support: {
    scopes: ["read", "incidents:write", "notifications:write"],
    who: "talks to customers: incident updates, subscribers, notifications",
  },
  finance: {
    scopes: ["read", "data:write", "compensation:write", "compensation:approve", "audit:read"],
    who: "money: company data, compensation previews, approving and applying runs, the audit log",
  },
  viewer: { scopes: ["read"], who: "reads everything, changes nothing" },
};

export const scopesOf = (role: Role): string[] => [...ROLE_PERMISSIONS[role].scopes];

export const isRole = (s: string): s is Role => (ROLES as readonly string[]).includes(s);

/** Whether someone holding `held` may hand out every scope in `wanted` (to a user's role or a token). */
export function mayGrant(held: readonly string[], wanted: readonly string[]): boolean {
  if (held.includes("*")) return true;
  return wanted.every((s) => s !== "*" && held.includes(s));
}

/** The table as Markdown, for the README. */
export function permissionTable(allScopes: readonly string[]): string {
  const scopes = allScopes.filter((s) => s !== "*");
  const head = `| role | ${scopes.map((s) => `\`${s}\``).join(" | ")} | who |`;
  const rule = `| --- | ${scopes.map(() => ":-:").join(" | ")} | --- |`;
  const rows = ROLES.map((r) => {
    const held = ROLE_PERMISSIONS[r].scopes as readonly string[];
    const marks = scopes.map((s) => (held.includes("*") || held.includes(s) ? "✓" : ""));
    return `| ${r} | ${marks.join(" | ")} | ${ROLE_PERMISSIONS[r].who} |`;
  });
  return [head, rule, ...rows].join("\n");
}
