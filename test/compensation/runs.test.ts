/**
 * A, B and C end to end through the public API: components and incident by API, rows through
 * the real CSV import, the policy as YAML, then preview → approve → apply, on both backends.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyRun } from "../../src/compensation/apply.ts";
import { createPreview } from "../../src/compensation/runs.ts";
import { postingsFor } from "../../src/core/compensation/ledger.ts";
import { EXCLUDED_SAMPLE } from "../../src/core/compensation/preview.ts";
import { startTestApp, type TestApp } from "../support/app.ts";
import { BACKENDS } from "../support/backends.ts";
import { A, B, C } from "./examples.ts";

const yaml = (name: string) =>
  readFileSync(join(import.meta.dirname, "../../examples/policies", `${name}.yaml`), "utf8");
const isoOrEmpty = (ms: number | null) => (ms === null ? "" : new Date(ms).toISOString());

function csv(rows: Record<string, unknown>[]): string {
  const header = Object.keys(rows[0]!);
  return [header.join(","), ...rows.map((r) => header.map((h) => String(r[h] ?? "")).join(","))].join("\n");
}

const postCsv = (t: TestApp, kind: string, body: string) =>
  t.app.inject({
    method: "POST",
    url: `/api/v1/import/${kind}`,
    headers: { authorization: `Bearer ${t.token}`, "content-type": "text/csv" },
    payload: body,
  });

async function importCsv(t: TestApp, kind: string, body: string) {
  const res = await postCsv(t, kind, body);
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

const customersCsv = (list: typeof A.customers) =>
  csv(
    list.map((c) => ({
      id: c.id,
      home_region: c.homeRegion,
      plan: c.plan,
      monthly_fee: c.monthlyFee,
      currency: c.currency,
      email: `${c.id.toLowerCase()}@example.com`,
    })),
  );
const sessionRows = (list: typeof A.sessions) =>
  list.map((s) => ({
    id: s.id,
    customer_id: s.customerId,
    kind: s.kind,
    component_id: s.componentId,
    region: s.region,
    started_at: isoOrEmpty(s.start),
    ended_at: isoOrEmpty(s.end),
    charge: s.charge,
    currency: s.currency,
    refunded: s.refunded,
  }));
const sessionsCsv = (list: typeof A.sessions) => csv(sessionRows(list));

async function runPolicy(
  t: TestApp,
  incident: string,
  policyYaml: string,
  extra: Record<string, string> = {},
) {
  const saved = await t.call("POST", "/api/v1/policies", { yaml: policyYaml });
  expect([200, 201], JSON.stringify(saved.json)).toContain(saved.status);
  const run = await t.call("POST", `/api/v1/incidents/${incident}/compensation-runs`, {
    policy: saved.json.id,
    ...extra,
  });
  expect(run.status, JSON.stringify(run.json)).toBe(201);
  const preview = (await t.call("GET", `/api/v1/compensation-runs/${run.json.id}/preview`)).json;
  return { run: run.json, preview };
}

async function approveAndApply(t: TestApp, runId: string) {
  expect((await t.call("POST", `/api/v1/compensation-runs/${runId}/approve`)).status).toBe(200);
  const before = (await t.call("GET", `/api/v1/compensation-runs/${runId}/progress`)).json;
  expect(before).toMatchObject({ status: "approved", done: 0 });
  const applied = await t.call("POST", `/api/v1/compensation-runs/${runId}/apply`);
  expect(applied.status, JSON.stringify(applied.json)).toBe(200);
  const after = (await t.call("GET", `/api/v1/compensation-runs/${runId}/progress`)).json;
  expect(after).toEqual({ status: "applied", lines: before.lines, done: before.lines });
  return applied.json;
}

/** Example A's components, customers and sessions through the import, and its resolved outage. */
async function loadOutageA(t: TestApp) {
  for (const c of A.components) await t.call("POST", "/api/v1/components", { id: c.id, name: c.id });
  await importCsv(t, "customers", customersCsv(A.customers));
  expect(await importCsv(t, "sessions", sessionsCsv(A.sessions))).toEqual({ kind: "sessions", rows: 6 });
  await outageA(t);
}

/** Example A's outage of the rental backend, opened and resolved through the API. */
async function outageA(t: TestApp, id = "INC-2017-12-19", title = "Rentals cannot be ended") {
  const open = await t.call("POST", "/api/v1/incidents", {
    id,
    title,
    body: "Investigating",
    started_at: A.incident.start,
    components: [{ id: "rental-backend", status: "major_outage" }],
  });
  expect(open.status).toBe(201);
  const resolved = await t.call("POST", `/api/v1/incidents/${id}/resolve`, { resolved_at: A.incident.end });
  expect(resolved.json.resolved_at).toBe("2017-12-19T16:00:00.000Z");
}

/**
 * The currencies whose postings do not sum to zero (none), after checking that every entry's
 * postings are the ones `postingsFor`, the core's definition, gives for its line.
 */
async function ledgerBalances(t: TestApp) {
  const entries = await t.database.query<{ id: string; incident_id: string; amount: number; detail: any }>(
    "select id, incident_id, amount, detail from ledger_entries",
  );
  const postings = await t.database.query<{
    entry_id: string;
    account: string;
    amount: number;
    currency: string;
  }>("select entry_id, account, amount, currency from ledger_postings order by entry_id, amount desc");
  expect(entries.length).toBeGreaterThan(0);
  expect(postings.map(({ entry_id, ...p }) => ({ entry: entry_id, ...p, amount: Number(p.amount) }))).toEqual(
    entries
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .flatMap((e) =>
        postingsFor(e.detail, Number(e.amount), e.incident_id).map((p) => ({ entry: e.id, ...p })),
      ),
  );
  return t.database.query<{ currency: string; total: number }>(
    "select currency, sum(amount)::bigint as total from ledger_postings group by currency having sum(amount) <> 0",
  );
}

describe.each(BACKENDS)("compensation runs on %s", (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(backend);
  });
  afterAll(() => t.close());

  it("A: pays 8848 EUR once, and nothing on a second run", async () => {
    await loadOutageA(t);
    const { run, preview } = await runPolicy(t, "INC-2017-12-19", yaml("car2go-2017-outage"));
    expect(run.summary).toMatchObject({ money: { EUR: 8848 }, lines: 3, notifications: 3 });
    expect(preview.per_customer).toEqual([
      { customer_id: "C1", money: { EUR: 8485 }, units: {} },
      { customer_id: "C3", money: { EUR: 363 }, units: {} },
    ]);
    expect(preview.lines.map((l: any) => [l.key, l.amount])).toEqual([
      ["INC-2017-12-19:S1:refund", 8050],
      ["INC-2017-12-19:S4:refund", 435],
      ["INC-2017-12-19:S3:refund", 363],
    ]);
    expect(preview.excluded.map((e: any) => [e.reference, e.reason])).toEqual([
      ["S7", "below_min_overlap"],
      ["S5", "component_mismatch"],
      ["S6", "no_overlap"],
    ]);

    // The report's charts add up to the same total, by city and by rule.
    const report = (await t.call("GET", `/api/v1/compensation-runs/${run.id}/report`)).json;
    for (const charts of [report.byCity, report.byRule]) {
      expect(charts.map((c: any) => c.measure)).toEqual([{ currency: "EUR" }]);
      expect(charts[0].bars.reduce((sum: number, b: any) => sum + b.amount, 0)).toBe(8848);
    }
    // Cities by the names people read, not their ids.
    expect(report.byCity[0].bars.map((b: any) => b.label)).toContain("Milan");
    expect(report.byCity[0].bars.map((b: any) => b.label)).not.toContain("milan");
    const rules = [...new Set(preview.lines.map((l: any) => l.rule))].sort();
    expect(report.byRule[0].bars.map((b: any) => b.label).sort()).toEqual(rules);
    expect(report.excluded).toHaveLength(3);
    const page = await t.call("GET", `/api/v1/compensation-runs/${run.id}/report.html`);
    expect(page.status).toBe(200);
    expect(page.json).toContain("Amount by rule (EUR)");

    const applied = await approveAndApply(t, run.id);
    expect(applied.applied).toMatchObject({ entries: 3, money: { EUR: 8848 }, messages: 3 });
    // Applying again posts nothing; a fresh run finds nothing left to pay.
    const again = await t.call("POST", `/api/v1/compensation-runs/${run.id}/apply`);
    expect(again.json.applied.entries).toBe(3);
    const rerun = await runPolicy(t, "INC-2017-12-19", yaml("car2go-2017-outage"));
    expect(rerun.run.summary.lines).toBe(0);
    expect(
      rerun.preview.excluded
        .filter((e: any) => e.reason === "already_compensated")
        .map((e: any) => e.reference),
    ).toEqual(["S1", "S4", "S3"]);
    await approveAndApply(t, rerun.run.id);

    const [entries] = await t.database.query<{ n: number; total: number }>(
      "select count(*)::int as n, sum(amount)::bigint as total from ledger_entries",
    );
    expect(entries).toEqual({ n: 3, total: 8848 });
    expect(await ledgerBalances(t)).toEqual([]);
    const messages = await t.database.query<{ customer_id: string; payload: any }>(
      "select customer_id, payload from outbox_messages where incident_id = 'INC-2017-12-19' and event = 'compensation.granted' order by customer_id",
    );
    expect(messages[0]!.payload).toMatchObject({
      incident_title: "Rentals cannot be ended",
      window_start: "2017-12-19T02:00:00.000Z",
      window_end: "2017-12-19T16:00:00.000Z",
      lines: [
        { key: "INC-2017-12-19:S1:refund", amount: 8050, currency: "EUR" },
        { key: "INC-2017-12-19:S4:refund", amount: 435, currency: "EUR" },
      ],
    });
    expect(messages.map((m) => [m.customer_id, m.payload.nothing_due])).toEqual([
      ["C1", false],
      ["C2", true],
      ["C3", false],
    ]);
    const csvOut = await t.app.inject({
      url: `/api/v1/compensation-runs/${run.id}/export.csv`,
      headers: { authorization: `Bearer ${t.token}` },
    });
    expect(csvOut.body.split("\n")[0]).toMatch(/^entry_id,idempotency_key,customer_id,kind,amount,currency/);
    expect(csvOut.body).toContain("INC-2017-12-19:S1:refund@13050,C1,refund,8050,EUR");
  });

  it("the ledger refuses edits", async () => {
    await expect(t.database.query("update ledger_entries set amount = 1")).rejects.toThrow(/append-only/);
    await expect(t.database.query("delete from ledger_postings")).rejects.toThrow(/append-only/);
  });

  it("B: refunds 2900 EUR of duplicates, 30 minutes to three customers, two to review", async () => {
    await importCsv(t, "customers", customersCsv(B.customers));
    await importCsv(
      t,
      "charges",
      csv(
        B.charges.map((c) => ({
          id: c.id,
          customer_id: c.customerId,
          usage_ref: c.usageRef,
          amount: c.amount,
          currency: c.currency,
          status: c.status,
          created_at: new Date(c.createdAt).toISOString(),
          amount_refunded: c.amountRefunded,
        })),
      ),
    );
    const open = await t.call("POST", "/api/v1/incidents", {
      id: B.incident.id,
      title: "Rentals charged twice",
      body: "Refunding",
      started_at: B.incident.start,
    });
    expect(open.status).toBe(201);
    const { run, preview } = await runPolicy(t, B.incident.id, yaml("car2go-2014-double-charge"), {
      as_of: B.runAt,
      detected_at: B.incident.detected,
    });
    expect(run.summary).toMatchObject({
      money: { EUR: 2900 },
      units: { minutes: 90 },
      notifications: 3,
      review: 2,
    });
    expect(
      preview.lines.filter((l: any) => l.kind === "refund").map((l: any) => [l.charge, l.amount, l.dueBy]),
    ).toEqual([
      ["ch_1002", 1160, "2014-11-21T09:00:00.000Z"],
      ["ch_1005", 870, "2014-11-21T09:00:00.000Z"],
      ["ch_1006", 870, "2014-11-21T09:00:00.000Z"],
    ]);
    expect(preview.review.map((r: any) => [r.customer_id, r.reason])).toEqual([
      ["K5", "outside_fault_window"],
      ["K6", "weak_key_duplicate"],
    ]);
    const applied = await approveAndApply(t, run.id);
    expect(applied.applied).toMatchObject({ money: { EUR: 2900 }, units: { minutes: 90 }, messages: 3 });
    const units = await t.database.query<{ currency: string }>(
      "select distinct currency from ledger_postings where currency like 'minutes:%' order by 1",
    );
    expect(units.map((u) => u.currency)).toEqual(["minutes:berlin", "minutes:hamburg", "minutes:munich"]);
    expect(await ledgerBalances(t)).toEqual([]);
  });

  it("C: pays 7753 GBP for tower T-17", async () => {
    for (const c of C.components)
      await t.call("POST", "/api/v1/components", {
        id: c.id,
        name: c.id,
        ...(c.parentId && { parent_id: c.parentId }),
      });
    await importCsv(t, "customers", customersCsv(C.customers));
    await importCsv(t, "sessions", sessionsCsv(C.sessions));
    await t.call("POST", "/api/v1/incidents", {
      id: "INC-T17",
      title: "Tower T-17 down",
      body: "Power cut",
      started_at: C.incident.start,
      components: [{ id: "tower:T-17", status: "major_outage" }],
    });
    await t.call("POST", "/api/v1/incidents/INC-T17/resolve", { resolved_at: C.incident.end });
    const { run, preview } = await runPolicy(t, "INC-T17", yaml("isp-tower-outage"));
    expect(run.summary).toMatchObject({ money: { GBP: 7753 }, notifications: 4 });
    expect(Object.fromEntries(preview.lines.map((l: any) => [l.customerId, l.amount]))).toEqual({
      B1: 3000,
      B2: 1125,
      U1: 3428,
      U2: 200,
    });
  });

  it("previews are deterministic: the same inputs give the same bytes and hash", async () => {
    const asOf = { as_of: "2025-03-20T00:00:00Z" };
    const one = await runPolicy(t, "INC-T17", yaml("isp-tower-outage"), asOf);
    const two = await runPolicy(t, "INC-T17", yaml("isp-tower-outage"), asOf);
    // the run waiting for approval is the answer again, byte for byte
    expect(two.run.id).toBe(one.run.id);
    expect(JSON.stringify(two.preview)).toBe(JSON.stringify(one.preview));
    // another time is another run, with the same outcome where time plays no part
    const later = await runPolicy(t, "INC-T17", yaml("isp-tower-outage"), { as_of: "2025-03-21T00:00:00Z" });
    expect(later.run.id).not.toBe(one.run.id);
    expect(later.run.preview_hash).toBe(one.run.preview_hash);
    const strip = (p: any) => JSON.stringify({ ...p, run: undefined });
    expect(strip(later.preview)).toBe(strip(one.preview));
  });

  it("answers the same under /api/v1/compensation", async () => {
    const saved = await t.call("POST", "/api/v1/compensation/policies", { yaml: yaml("isp-tower-outage") });
    expect([200, 201]).toContain(saved.status);
    const run = await t.call("POST", "/api/v1/compensation/preview", {
      incident: "INC-T17",
      policy: saved.json.id,
    });
    expect(run.status, JSON.stringify(run.json)).toBe(201);
    const direct = await runPolicy(t, "INC-T17", yaml("isp-tower-outage"));
    expect(run.json.preview_hash).toBe(direct.run.preview_hash);
    const aliased = (await t.call("GET", `/api/v1/compensation/runs/${run.json.id}/preview`)).json;
    const strip = (p: any) => JSON.stringify({ ...p, run: undefined });
    expect(strip(aliased)).toBe(strip(direct.preview));
    const listed = (await t.call("GET", "/api/v1/compensation/runs?incident=INC-T17")).json.runs;
    expect(listed.map((r: any) => r.id)).toContain(run.json.id);
    expect((await t.call("POST", `/api/v1/compensation/runs/${run.json.id}/approve`)).status).toBe(200);

    const missing = await t.call("POST", "/api/v1/compensation/preview", { policy: saved.json.id });
    expect(missing.status).toBe(400);
    expect(missing.json.errors[0].field).toBe("incident");
  });

  it("imports '#' as text, and refuses unknown columns and year 0000 by line and field", async () => {
    await importCsv(t, "customers", 'id,name,home_city,plan\nH1,"Team #1",zone#2,basic\n');
    const [h1] = await t.database.query<{ name: string; home_region: string }>(
      "select name, home_region from customers where workspace_id = $1 and id = 'H1'",
      [t.workspaceId],
    );
    expect(h1).toEqual({ name: "Team #1", home_region: "zone#2" });

    const refused = async (kind: string, body: string) => {
      const res = await postCsv(t, kind, body);
      expect(res.statusCode, res.body).toBe(400);
      return res.json().errors[0];
    };
    expect(await refused("customers", "id,emial\nH2,h2@example.com\n")).toMatchObject({
      field: "emial",
      line: 2,
      message: expect.stringMatching(/not a column of customers .*email/),
    });
    const session =
      "id,customer_id,kind,started_at,charge,currency\nS9,H1,rental,0000-06-01T00:00:00Z,100,EUR\n";
    expect(await refused("sessions", session)).toMatchObject({ field: "started_at", line: 2 });
    const [n] = await t.database.query<{ n: number }>(
      "select count(*)::int as n from customers where workspace_id = $1 and id = 'H2'",
      [t.workspaceId],
    );
    expect(n!.n).toBe(0);
  });
});

describe.each(BACKENDS)("applying an approved run on %s", (backend) => {
  /**
   * Example A previewed and approved, then support's refunds re-imported by `reimport`, then
   * applied: what each session got. A session is refunded once, whatever was re-imported.
   */
  async function applyAfter(reimport: (t: TestApp) => Promise<void>) {
    const t = await startTestApp(backend);
    try {
      await loadOutageA(t);
      const { run, preview } = await runPolicy(t, "INC-2017-12-19", yaml("car2go-2017-outage"));
      expect((await t.call("POST", `/api/v1/compensation-runs/${run.id}/approve`)).status).toBe(200);
      await reimport(t);
      expect((await t.call("POST", `/api/v1/compensation-runs/${run.id}/apply`)).status).toBe(200);
      const entries = await t.database.query<{ action_key: string; n: number; amount: number }>(
        "select action_key, count(*)::int as n, sum(amount)::int as amount from ledger_entries group by action_key",
      );
      expect(entries.every((e) => e.n === 1)).toBe(true);
      const paid = Object.fromEntries(entries.map((e) => [e.action_key, e.amount]));
      // The other sessions are paid what was approved, no more.
      for (const l of preview.lines.filter((l: any) => l.session !== "S1"))
        expect(paid[l.key], l.key).toBe(l.amount);
      return paid["INC-2017-12-19:S1:refund"];
    } finally {
      await t.close();
    }
  }

  it("pays no more than was approved when refunds elsewhere shrink after approval", async () => {
    // S1's 5000 support refund disappears from the company's data (a re-import) before apply.
    const s1 = await applyAfter((t) =>
      importCsv(t, "sessions", sessionsCsv(A.sessions.map((s) => ({ ...s, refunded: 0 })))),
    );
    expect(s1).toBe(8050);
  });

  // An apply reads the sessions again only when an import came after its preview: each path
  // of the import must say that it wrote.
  it.each(["csv", "json"])(
    "pays less when support refunds more after approval (a %s import)",
    async (via) => {
      // Support refunds 13000 of S1's 13050 before the apply: 50 is left to refund, not 8050.
      const sessions = A.sessions.map((s) => (s.id === "S1" ? { ...s, refunded: 13000 } : s));
      const s1 = await applyAfter(async (t) => {
        if (via === "csv") await importCsv(t, "sessions", sessionsCsv(sessions));
        else {
          const res = await t.call("POST", "/api/v1/import/sessions", sessionRows(sessions));
          expect(res.status, JSON.stringify(res.json)).toBe(200);
        }
      });
      expect(s1).toBe(50);
    },
  );
});

describe("an apply resumed after a crash", () => {
  it("stores a summary of everything the run booked, across attempts", async () => {
    const t = await startTestApp("pglite");
    try {
      await loadOutageA(t);
      const { run } = await runPolicy(t, "INC-2017-12-19", yaml("car2go-2017-outage"));
      expect((await t.call("POST", `/api/v1/compensation-runs/${run.id}/approve`)).status).toBe(200);
      // The first attempt dies after its first line's chunk is committed.
      const crash = new Error("killed");
      await expect(
        applyRun(t.database, t.workspaceId, run.id, new Date(), {
          chunk: 1,
          onChunk: () => {
            throw crash;
          },
        }),
      ).rejects.toBe(crash);
      const resumed = await t.call("POST", `/api/v1/compensation-runs/${run.id}/apply`);
      expect(resumed.status, JSON.stringify(resumed.json)).toBe(200);
      const summary = { entries: 3, skipped: 0, money: { EUR: 8848 }, units: {}, messages: 3 };
      expect(resumed.json.applied).toEqual(summary);
      expect((await t.call("GET", `/api/v1/compensation-runs/${run.id}`)).json.applied).toEqual(summary);
    } finally {
      await t.close();
    }
  });
});

describe("a re-run's top-up", () => {
  it("updates the customer's one message while it waits to be sent", async () => {
    const t = await startTestApp("pglite");
    try {
      await loadOutageA(t);
      const lessFirst = yaml("car2go-2017-outage").replace(/ {2}- \{id: whole_session.*\n/, "");
      expect(lessFirst).not.toBe(yaml("car2go-2017-outage"));
      const first = await runPolicy(t, "INC-2017-12-19", lessFirst);
      await approveAndApply(t, first.run.id);
      const second = await runPolicy(t, "INC-2017-12-19", yaml("car2go-2017-outage"));
      expect(second.preview.lines.map((l: any) => [l.key, l.amount])).toEqual([
        ["INC-2017-12-19:S1:refund", 580],
      ]);
      expect((await approveAndApply(t, second.run.id)).applied.messages).toBe(0);
      const messages = await t.database.query<{ customer_id: string; payload: any }>(
        "select customer_id, payload from outbox_messages where event = 'compensation.granted' order by customer_id",
      );
      expect(messages.map((m) => m.customer_id)).toEqual(["C1", "C2", "C3"]);
      const c1 = messages[0]!.payload.lines.map((l: any) => [l.key, l.amount]);
      expect(c1).toEqual([
        ["INC-2017-12-19:S1:refund", 8050],
        ["INC-2017-12-19:S4:refund", 435],
      ]);
    } finally {
      await t.close();
    }
  });
});

describe.each(BACKENDS)("refunds across incidents on %s", (backend) => {
  it("never refund more than was captured, even when both runs were previewed first", async () => {
    const t = await startTestApp(backend);
    try {
      await loadOutageA(t);
      // A second incident over the same hours (another component's report of the same fault).
      await outageA(t, "INC-2017-12-19-b", "Rentals cannot be ended (app)");
      const policy = (incident: string) => `policy: whole-${incident}
match: {incident: ${incident}}
rules:
  - id: whole
    action: {refund: session_charge}
`;
      const a = await runPolicy(t, "INC-2017-12-19", policy("INC-2017-12-19"));
      const b = await runPolicy(t, "INC-2017-12-19-b", policy("INC-2017-12-19-b"));
      // Both previews offer S1 its whole charge less support's 5000.
      for (const run of [a, b])
        expect(run.preview.lines.find((l: any) => l.session === "S1")).toMatchObject({ amount: 8050 });
      await approveAndApply(t, a.run.id);
      await approveAndApply(t, b.run.id);
      const refunded = await t.database.query<{ refund_of: string; total: number }>(
        "select refund_of, sum(amount)::int8 as total from ledger_entries where kind = 'refund' group by refund_of order by 1",
      );
      for (const r of refunded) {
        const s = A.sessions.find((x) => `session:${x.id}` === r.refund_of)!;
        expect(Number(r.total) + s.refunded, r.refund_of).toBeLessThanOrEqual(s.charge);
      }
      const [second] = await t.database.query<{ n: number }>(
        "select count(*)::int as n from ledger_entries where incident_id = 'INC-2017-12-19-b' and kind = 'refund'",
      );
      expect(second!.n).toBe(0);
      // A new preview of the second incident sees there is nothing left to refund.
      const again = await runPolicy(t, "INC-2017-12-19-b", policy("INC-2017-12-19-b"));
      expect(again.preview.lines).toEqual([]);
      expect(again.preview.excluded.map((e: any) => e.reason)).toContain("already_refunded");
    } finally {
      await t.close();
    }
  });
});

describe.each(BACKENDS)("re-previewing an applied incident on %s", (backend) => {
  it("counts every paid session but stores only a sample of them, as the engine does", async () => {
    const t = await startTestApp(backend);
    try {
      const n = EXCLUDED_SAMPLE + 50;
      await t.call("POST", "/api/v1/components", { id: "rental-backend", name: "Rentals" });
      await importCsv(t, "customers", customersCsv(A.customers));
      const sessions = Array.from({ length: n }, (_, i) => ({
        ...A.sessions[0]!,
        id: `R${String(i).padStart(4, "0")}`,
        customerId: A.customers[i % A.customers.length]!.id,
        refunded: 0,
      }));
      await importCsv(t, "sessions", sessionsCsv(sessions));
      await outageA(t);
      const policy = "policy: whole\nrules:\n  - {id: whole, action: {refund: session_charge}}\n";
      const first = await runPolicy(t, "INC-2017-12-19", policy);
      expect(first.preview.lines).toHaveLength(n);
      await approveAndApply(t, first.run.id);

      const again = await runPolicy(t, "INC-2017-12-19", policy);
      expect(again.preview.lines).toEqual([]);
      // Everyone was told what they got when it was paid: the re-preview tells nobody again.
      expect(again.run.summary).toMatchObject({
        excluded: n,
        excluded_reasons: { already_compensated: n },
        notifications: 0,
      });
      expect(again.preview.notifications ?? []).toEqual([]);
      const stored = again.preview.excluded.map((e: any) => [e.customer_id, e.reference]);
      expect(stored).toHaveLength(EXCLUDED_SAMPLE);
      expect(stored).toEqual(
        sessions
          .map((s) => [s.customerId, s.id])
          .sort(([a, x], [b, y]) => (a! < b! ? -1 : a! > b! ? 1 : x! < y! ? -1 : 1))
          .slice(0, EXCLUDED_SAMPLE),
      );
      // The engine keeps the same sample and counts.
      const twin = await createPreview(
        t.database,
        t.workspaceId,
        {
          incidentId: "INC-2017-12-19",
          policyId: "whole",
          asOf: new Date(again.run.as_of),
          engineOnly: true,
        },
        null,
        new Date(),
      );
      expect(twin.summary).toEqual(again.run.summary);
      expect(twin.previewHash).toBe(again.run.preview_hash);
    } finally {
      await t.close();
    }
  });
});

describe.each(BACKENDS)("the scan of a preview on %s", (backend) => {
  it("finds a long session imported after short ones, and sessions still open", async () => {
    const t = await startTestApp(backend);
    try {
      const DAY = 86_400_000;
      const at = (time: string) => Date.parse(`2017-12-19T${time}Z`);
      const session = (id: string, customerId: string, start: number, end: number | null) => ({
        ...A.sessions[0]!,
        id,
        customerId,
        start,
        end,
        refunded: 0,
      });
      await t.call("POST", "/api/v1/components", { id: "rental-backend", name: "Rentals" });
      await importCsv(t, "customers", customersCsv(A.customers));
      // Sessions are read from the longest one known before the window: first an hour, then ten days.
      await importCsv(t, "sessions", sessionsCsv([session("SHORT", "C1", at("01:30:00"), at("02:30:00"))]));
      await importCsv(
        t,
        "sessions",
        sessionsCsv([
          session("LONG", "C2", at("03:00:00") - 10 * DAY, at("03:00:00")),
          session("BEFORE", "C4", at("01:00:00") - 11 * DAY, at("01:00:00")),
          session("OPEN", "C3", at("00:00:00") - 365 * DAY, null),
        ]),
      );
      await outageA(t);
      const { preview } = await runPolicy(t, "INC-2017-12-19", yaml("car2go-2017-outage"), {
        as_of: "2017-12-20T00:00:00Z",
      });
      expect(preview.lines.map((l: any) => l.session)).toEqual(["SHORT", "LONG", "OPEN"]);
      expect(preview.excluded).toEqual([]);
    } finally {
      await t.close();
    }
  });
});

describe("a monthly cap spans incidents", () => {
  it("gives B1 nothing more for a second outage in the same month", async () => {
    const t = await startTestApp("pglite");
    try {
      for (const c of C.components)
        await t.call("POST", "/api/v1/components", {
          id: c.id,
          name: c.id,
          ...(c.parentId && { parent_id: c.parentId }),
        });
      await importCsv(t, "customers", customersCsv(C.customers));
      await importCsv(t, "sessions", sessionsCsv(C.sessions));
      await t.call("POST", "/api/v1/incidents", {
        id: "INC-T17",
        title: "T-17 down",
        body: "x",
        started_at: C.incident.start,
      });
      await t.call("POST", "/api/v1/incidents/INC-T17/resolve", { resolved_at: C.incident.end });
      const first = await runPolicy(t, "INC-T17", yaml("isp-tower-outage"));
      await approveAndApply(t, first.run.id);
      // A second, shorter outage on 6 March while B1 was on T-17: its SLA credit is capped by what March already paid.
      await t.call("POST", "/api/v1/incidents", {
        id: "INC-T17-b",
        title: "T-17 blip",
        body: "x",
        started_at: "2025-03-06T10:00:00Z",
      });
      await t.call("POST", "/api/v1/incidents/INC-T17-b/resolve", { resolved_at: "2025-03-06T12:00:00Z" });
      const second = await runPolicy(t, "INC-T17-b", yaml("isp-tower-outage"));
      expect(second.preview.lines.find((l: any) => l.customerId === "B1")).toBeUndefined();
      expect(second.preview.excluded).toContainEqual(
        expect.objectContaining({ customer_id: "B1", reason: "cap_reached" }),
      );
    } finally {
      await t.close();
    }
  });
});
