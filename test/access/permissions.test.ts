/** The role table in the code is the one in the README, and the guard helpers keep to it. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  mayGrant,
  permissionTable,
  ROLE_PERMISSIONS,
  ROLES,
  scopesOf,
} from "../../src/access/permissions.ts";
import { actionOf } from "../../src/audit/hook.ts";
import { redact } from "../../src/audit/store.ts";
import { SCOPES } from "../../src/tokens/store.ts";

describe("permissions", () => {
  it("renders the same table as the README shows", () => {
    const readme = readFileSync(join(import.meta.dirname, "../../README.md"), "utf8");
    const shown = /<!-- permissions:start -->\n([\s\S]*?)\n<!-- permissions:end -->/.exec(readme)?.[1];
    expect(shown).toBe(permissionTable(SCOPES));
  });

  it("gives every role read, only owner everything, and approval of money to finance and owner alone", () => {
    for (const r of ROLES) expect(scopesOf(r).includes("read") || scopesOf(r).includes("*")).toBe(true);
    expect(ROLES.filter((r) => scopesOf(r).includes("*"))).toEqual(["owner"]);
    expect(ROLES.filter((r) => mayGrant(scopesOf(r), ["compensation:approve"]))).toEqual([
      "owner",
      "finance",
    ]);
    for (const r of ROLES) for (const s of ROLE_PERMISSIONS[r].scopes) expect(SCOPES).toContain(s);
  });

  it("lets nobody grant more than they hold", () => {
    expect(mayGrant(scopesOf("admin"), scopesOf("owner"))).toBe(false);
    expect(mayGrant(scopesOf("admin"), scopesOf("finance"))).toBe(false);
    expect(mayGrant(scopesOf("admin"), scopesOf("responder"))).toBe(true);
    expect(mayGrant(scopesOf("owner"), ["*"])).toBe(true);
  });

  it("names audit actions after routes and blanks secrets", () => {
    expect(actionOf("POST", "/api/v1/incidents")).toEqual({
      action: "incident.create",
      targetType: "incident",
    });
    expect(actionOf("PATCH", "/api/v1/components/:id").action).toBe("component.update");
    expect(actionOf("POST", "/api/v1/compensation-runs/:id/approve").action).toBe("compensation-run.approve");
    expect(actionOf("POST", "/api/v1/incidents/:id/updates").action).toBe("incident.update");
    expect(actionOf("DELETE", "/api/v1/policies/:id").action).toBe("policy.delete");
    expect(redact({ id: "t", secret: "amd_x", nested: [{ password: "p", name: "n" }], token: null })).toEqual(
      {
        id: "t",
        secret: "[redacted]",
        nested: [{ password: "[redacted]", name: "n" }],
        token: null,
      },
    );
  });
});
