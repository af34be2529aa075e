/**
 * Authentication for /api/v1: a bearer API token, the console's session cookie, or the local
 * secret. A route names the scope it needs; the caller's workspace becomes the request's.
 * The local secret is how the `amends` CLI on the same machine talks to its own server (it
 * is written to a 0600 file beside the data). A request carried by the session cookie with an
 * unsafe method must also send `x-csrf-token` (the cookie alone travels with forged requests).
 * server.ts runs these checks in onRequest, before the body is parsed: a caller without rights
 * learns nothing about the route's input.
 */
import { timingSafeEqual } from "node:crypto";
import type { FastifyRequest, preHandlerAsyncHookHandler } from "fastify";
import { scopesOf } from "../access/permissions.ts";
import { csrfMatches, findSessionUser, SESSION_COOKIE } from "../access/sessions.ts";
import type { UserRow } from "../access/users.ts";
import { AmendsError } from "../core/errors.ts";
import type { Db } from "../storage/database.ts";
import { allows, findLiveToken, type Scope, touchToken } from "../tokens/store.ts";
import { requireWorkspace } from "../workspaces/store.ts";

export interface Actor {
  kind: "user" | "token" | "local" | "monitor" | "integration" | "system";
  id: string;
  name: string;
}

export interface Principal {
  workspaceId: string;
  /** The API token's id; "local" for the CLI's secret, "session" for a signed-in user. */
  tokenId: string;
  scopes: string[];
  actor: Actor;
  /** Set when a person signed in to the console is acting. */
  user?: UserRow;
  /** The session cookie's secret, when the request came with it. */
  session?: string;
}

declare module "fastify" {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** `user:usr_…`, `token:tok_…`, `local:cli`: how stores record who did something. */
export const actorRef = (p: Principal | undefined) => (p ? `${p.actor.kind}:${p.actor.id}` : null);

/** Marks the hooks made by `auth(scope)`, so the server can find each route's scope and run it early. */
export const AUTH_SCOPE = Symbol("amends.authScope");
export type AuthHook = preHandlerAsyncHookHandler & { [AUTH_SCOPE]?: Scope };

const TOUCH_EVERY_MS = 60_000;
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export function createAuthenticator(db: Db, localSecret: string | undefined, now: () => Date) {
  const lastTouched = new Map<string, number>();
  const isLocal = (secret: string) => {
    if (!localSecret) return false;
    const a = Buffer.from(secret);
    const b = Buffer.from(localSecret);
    return a.length === b.length && timingSafeEqual(a, b);
  };

  async function principalOf(request: FastifyRequest): Promise<Principal> {
    const header = request.headers.authorization;
    const cookie = request.cookies?.[SESSION_COOKIE];
    if (!header && cookie) return sessionPrincipal(request, cookie);
    const match = /^Bearer\s+(\S+)$/i.exec(header ?? "");
    if (!match)
      throw new AmendsError(
        "UNAUTHENTICATED",
        "send `Authorization: Bearer <token>` or sign in; create a token with `amends token create`",
      );
    const secret = match[1]!;
    if (isLocal(secret)) {
      const wanted = request.headers["x-amends-workspace"];
      const ws = await requireWorkspace(db, typeof wanted === "string" ? wanted : undefined);
      return {
        workspaceId: ws.id,
        tokenId: "local",
        scopes: ["*"],
        actor: { kind: "local", id: "cli", name: "local CLI" },
      };
    }
    const at = now();
    const token = await findLiveToken(db, secret, at);
    if (!token) throw new AmendsError("UNAUTHENTICATED", "the token is unknown, revoked or expired");
    if (at.getTime() - (lastTouched.get(token.id) ?? 0) > TOUCH_EVERY_MS) {
      lastTouched.set(token.id, at.getTime());
      await touchToken(db, token.id, at);
    }
    return {
      workspaceId: token.workspaceId,
      tokenId: token.id,
      scopes: token.scopes,
      actor: { kind: "token", id: token.id, name: token.name },
    };
  }

  async function sessionPrincipal(request: FastifyRequest, secret: string): Promise<Principal> {
    const user = await findSessionUser(db, secret, now());
    if (!user) throw new AmendsError("UNAUTHENTICATED", "the session has ended; sign in again");
    if (!SAFE_METHODS.has(request.method)) {
      const sent = request.headers["x-csrf-token"];
      if (!csrfMatches(secret, typeof sent === "string" ? sent : undefined))
        throw new AmendsError("FORBIDDEN", "send the session's CSRF token in the x-csrf-token header");
    }
    return {
      workspaceId: user.workspaceId,
      tokenId: "session",
      scopes: scopesOf(user.role as never),
      actor: { kind: "user", id: user.id, name: user.name },
      user,
      session: secret,
    };
  }

  const auth = (scope: Scope): AuthHook => {
    const hook: AuthHook = async (request) => {
      const principal = await principalOf(request);
      if (!allows(principal.scopes, scope)) {
        throw new AmendsError(
          "FORBIDDEN",
          principal.user
            ? `the ${principal.user.role} role may not do this (needs "${scope}")`
            : `this token lacks the "${scope}" scope`,
        );
      }
      request.principal = principal;
    };
    hook[AUTH_SCOPE] = scope;
    return hook;
  };
  return auth;
}

export function principal(request: FastifyRequest): Principal {
  if (!request.principal) throw new AmendsError("UNAUTHENTICATED");
  return request.principal;
}
