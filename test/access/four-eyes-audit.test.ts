/**
 * Four eyes on money and the audit log, through the API as real people: a finance user previews
 * a run above the workspace's threshold, cannot approve it herself (nor can a token or a
 * responder), a second finance user approves and applies it; every step is in the audit log,
 * with before and after, and the log refuses to be edited.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fourEyesRefusal } from "../../src/core/four-eyes.ts";
import { startTestApp, type TestApp } from "../support/app.ts";
import { BACKENDS } from "../support/backends.ts";
import { addPerson, as, type Person } from "./helpers.ts";

const POLICY = `policy: four-eyes-test
match: {session_kinds: [rental], components: [end-rental], min_overlap: PT1M}
combine: first_match
rules:
  - {id: whole_rental, action: {refund: session_charge}}
`;

describe.each(BACKENDS)("four eyes and audit on %s", (backend) => {
  let t: TestApp;
  let admin: Person;
  let alice: Person; // finance, previews
  let bruno: Person; // finance, approves
  let rita: Person; // responder
  let viewer: Person;
  let incidentId: string;
  let runId: string;

  beforeAll(async () => {
    t = await startTestApp(backend);
    admin = await addPerson(t.app, t.database, t.workspaceId, "admin", "admin");
    alice = await addPerson(t.app, t.database, t.workspaceId, "finance", "alice");
    bruno = await addPerson(t.app, t.database, t.workspaceId, "finance", "bruno");
    rita = await addPerson(t.app, t.database, t.workspaceId, "responder", "rita");
    viewer = await addPerson(t.app, t.database, t.workspaceId, "viewer", "vic");

    expect(
      (await as(t.app, rita, "POST", "/api/v1/components", { id: "end-rental", name: "End rental" })).status,
    ).toBe(201);
    const open = await as(t.app, rita, "POST", "/api/v1/incidents", {
      title: "Rentals cannot be ended",
      body: "Investigating.",
      components: [{ id: "end-rental", status: "major_outage" }],
      started_at: "2026-11-01T10:00:00Z",
    });
    expect(open.status, JSON.stringify(open.json)).toBe(201);
    incidentId = open.json.id;
    const upd = await as(t.app, rita, "POST", `/api/v1/incidents/${incidentId}/updates`, {
      status: "identified",
      body: "A bad deploy.",
    });
    expect(upd.status).toBe(201);
    const customers = await as(t.app, alice, "POST", "/api/v1/import/customers", [
      { id: "c1", home_region: "milan", currency: "EUR", monthly_fee: 0, email: "c1@example.com" },
      { id: "c2", home_region: "rome", currency: "EUR", monthly_fee: 0, email: "c2@example.com" },
    ]);
    expect(customers.status, JSON.stringify(customers.json)).toBe(200);
    const sessions = await as(t.app, alice, "POST", "/api/v1/import/sessions", [
      {
        id: "s1",
        customer_id: "c1",
        kind: "rental",
        component_id: "end-rental",
        region: "milan",
        started_at: "2026-11-01T09:30:00Z",
        ended_at: "2026-11-01T12:00:00Z",
        charge: 4000,
        currency: "EUR",
      },
      {
        id: "s2",
        customer_id: "c2",
        kind: "rental",
        component_id: "end-rental",
        region: "rome",
        started_at: "2026-11-01T10:30:00Z",
        ended_at: "2026-11-01T11:00:00Z",
        charge: 2500,
        currency: "EUR",
      },
    ]);
    expect(sessions.status, JSON.stringify(sessions.json)).toBe(200);
    const resolved = await as(t.app, rita, "POST", `/api/v1/incidents/${incidentId}/resolve`, {
      resolved_at: "2026-11-01T14:00:00Z",
    });
    expect(resolved.status, JSON.stringify(resolved.json)).toBe(200);
  });
  afterAll(() => t.close());

  it("sets the threshold: only people with settings:write may", async () => {
    expect(
      (await as(t.app, rita, "PUT", "/api/v1/access-settings", { four_eyes_above: { EUR: 5000 } })).status,
    ).toBe(403);
    const bad = await as(t.app, admin, "PUT", "/api/v1/access-settings", { four_eyes_above: { euro: 5 } });
    expect(bad.status).toBe(400);
    const set = await as(t.app, admin, "PUT", "/api/v1/access-settings", { four_eyes_above: { EUR: 5000 } });
    expect(set.status).toBe(200);
    expect((await as(t.app, viewer, "GET", "/api/v1/access-settings")).json).toEqual({
      four_eyes_above: { EUR: 5000 },
    });
  });

  it("needs a second finance user to approve a run above the threshold", async () => {
    const policy = await as(t.app, alice, "POST", "/api/v1/policies", { yaml: POLICY });
    expect([200, 201]).toContain(policy.status);
    const run = await as(t.app, alice, "POST", `/api/v1/incidents/${incidentId}/compensation-runs`, {
      policy: policy.json.id,
    });
    expect(run.status, JSON.stringify(run.json)).toBe(201);
    expect(run.json.summary.money).toEqual({ EUR: 6500 });
    expect(run.json.created_by).toBe(`user:${alice.id}`);
    runId = run.json.id;

    const self = await as(t.app, alice, "POST", `/api/v1/compensation-runs/${runId}/approve`);
    expect(self.status).toBe(403);
    expect(self.json.code).toBe("FOUR_EYES");
    expect(self.json.detail).toMatch(/you previewed it/);
    const byToken = await t.call("POST", `/api/v1/compensation-runs/${runId}/approve`);
    expect(byToken.status).toBe(403);
    expect(byToken.json.code).toBe("FOUR_EYES");
    expect(byToken.json.detail).toMatch(/not an API token/);
    const byResponder = await as(t.app, rita, "POST", `/api/v1/compensation-runs/${runId}/approve`);
    expect(byResponder.status).toBe(403);
    expect(byResponder.json.code).toBe("FORBIDDEN");
    expect((await t.call("GET", `/api/v1/compensation-runs/${runId}`)).json.status).toBe("previewed");

    const ok = await as(t.app, bruno, "POST", `/api/v1/compensation-runs/${runId}/approve`);
    expect(ok.status, JSON.stringify(ok.json)).toBe(200);
    expect(ok.json.approved_by).toBe(`user:${bruno.id}`);
    const applied = await as(t.app, bruno, "POST", `/api/v1/compensation-runs/${runId}/apply`);
    expect(applied.status, JSON.stringify(applied.json)).toBe(200);
    expect(applied.json.status).toBe("applied");
    const csv = await as(t.app, bruno, "GET", `/api/v1/compensation-runs/${runId}/export.csv`);
    expect(csv.status).toBe(200);
    expect(String(csv.json).trim().split("\n")).toHaveLength(3);
  });

  it("lets anyone with the scope approve below the threshold", () => {
    const base = { totals: { EUR: 5000 }, threshold: { EUR: 5000 }, previewedBy: "token:tok_a" };
    expect(fourEyesRefusal({ ...base, approver: { kind: "token", id: "tok_a" } })).toBeUndefined();
    expect(
      fourEyesRefusal({ ...base, totals: { EUR: 5001 }, approver: { kind: "token", id: "tok_b" } }),
    ).toMatch(/API token/);
    expect(
      fourEyesRefusal({ ...base, totals: { USD: 10 ** 9 }, approver: { kind: "token", id: "t" } }),
    ).toBeUndefined();
    expect(
      fourEyesRefusal({
        ...base,
        totals: { EUR: 9999 },
        previewedBy: "user:u1",
        approver: { kind: "user", id: "u2", role: "owner" },
      }),
    ).toBeUndefined();
    expect(
      fourEyesRefusal({
        ...base,
        totals: { EUR: 9999 },
        approver: { kind: "user", id: "u2", role: "admin" },
      }),
    ).toMatch(/finance/);
  });

  it("records every change with who, when, before and after", async () => {
    const log = await as(t.app, admin, "GET", "/api/v1/audit?limit=500");
    expect(log.status).toBe(200);
    const actions = log.json.items.map((i: any) => `${i.actor.name} ${i.action}`);
    for (const expected of [
      "admin session.create",
      "alice session.create",
      "rita component.create",
      "rita incident.create",
      "rita incident.update",
      "rita incident.resolve",
      "alice import.customers",
      "alice import.sessions",
      "admin access-setting.update",
      "alice policy.create",
      "alice compensation-run.preview",
      "bruno compensation-run.approve",
      "bruno compensation-run.apply",
    ])
      expect(actions).toContain(expected);
    // Refused attempts changed nothing and are not in the log as changes.
    expect(actions).not.toContain("alice compensation-run.approve");
    expect(actions).not.toContain("rita access-setting.update");

    const approve = await as(t.app, admin, "GET", "/api/v1/audit?action=compensation-run.approve");
    expect(approve.json.items).toHaveLength(1);
    const a = approve.json.items[0];
    expect(a.actor).toEqual({ kind: "user", id: bruno.id, name: "bruno" });
    expect(a.target).toEqual({ type: "compensation-run", id: runId });
    expect(a.before.status).toBe("previewed");
    expect(a.after.status).toBe("approved");
    expect(Date.parse(a.at)).toBeGreaterThan(Date.now() - 600_000);
    expect(a.ip).toBe("127.0.0.1");

    const update = (
      await as(t.app, admin, "GET", `/api/v1/audit?target=incident:${incidentId}&action=incident.update`)
    ).json.items[0];
    expect(update.before.status).toBe("investigating");
    expect(update.after.status).toBe("identified");
    const settings = (await as(t.app, admin, "GET", "/api/v1/audit?action=access-setting.")).json.items[0];
    expect(settings.before).toEqual({ four_eyes_above: {} });
    expect(settings.after).toEqual({ four_eyes_above: { EUR: 5000 } });

    // Filters: by actor, by text, by time, and pages by cursor.
    const byRita = (await as(t.app, admin, "GET", `/api/v1/audit?actor=user:${rita.id}`)).json.items;
    expect(new Set(byRita.map((i: any) => i.actor.name))).toEqual(new Set(["rita"]));
    // Text search reaches into before/after: the update, and every later change that showed the incident.
    const found = (await as(t.app, admin, "GET", "/api/v1/audit?q=bad%20deploy")).json.items;
    expect(found.map((i: any) => i.action)).toContain("incident.update");
    expect(found.map((i: any) => i.action)).not.toContain("incident.create");
    for (const i of found) expect(i.target.id).toBe(incidentId);
    expect((await as(t.app, admin, "GET", "/api/v1/audit?to=2020-01-01T00:00:00Z")).json.items).toEqual([]);
    const page1 = (await as(t.app, admin, "GET", "/api/v1/audit?limit=3")).json;
    const page2 = (await as(t.app, admin, "GET", `/api/v1/audit?limit=3&cursor=${page1.nextCursor}`)).json;
    expect(page1.items).toHaveLength(3);
    expect(page2.items[0].id).toBeLessThan(page1.items[2].id);
    expect(log.json.items.map((i: any) => i.id)).toEqual(
      [...log.json.items.map((i: any) => i.id)].sort((x: number, y: number) => y - x),
    );

    // Readable only with audit:read.
    expect((await as(t.app, viewer, "GET", "/api/v1/audit")).status).toBe(403);
    expect((await as(t.app, alice, "GET", "/api/v1/audit")).status).toBe(200);
  });

  it("never stores a secret, and nobody can edit or delete the log", async () => {
    const token = await as(t.app, admin, "POST", "/api/v1/tokens", { name: "grafana", scopes: ["read"] });
    expect(token.status).toBe(201);
    const entry = (await as(t.app, admin, "GET", "/api/v1/audit?action=token.create")).json.items[0];
    expect(entry.after.secret).toBe("[redacted]");
    expect(JSON.stringify(entry)).not.toContain(token.json.secret);
    const revoke = await as(t.app, admin, "DELETE", `/api/v1/tokens/${token.json.id}`);
    expect(revoke.status).toBe(200);
    expect((await as(t.app, admin, "GET", "/api/v1/audit?action=token.delete")).json.items[0].target).toEqual(
      {
        type: "token",
        id: token.json.id,
      },
    );

    await expect(t.database.query("update audit_log set actor_name = 'someone else'")).rejects.toThrow(
      /append-only/,
    );
    await expect(t.database.query("delete from audit_log")).rejects.toThrow(/append-only/);
    await expect(t.database.query("truncate audit_log")).rejects.toThrow(/append-only/);
    const [row] = await t.database.query<{ n: number }>(
      "select count(*)::int as n from audit_log where actor_name = 'bruno'",
    );
    expect(row?.n).toBeGreaterThanOrEqual(3);
  });
});
