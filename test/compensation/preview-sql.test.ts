/**
 * The preview computed in SQL (compensation/preview-sql.ts) against the pure engine, on random
 * sessions and on every policy of the shape it takes: session refunds and customer credits
 * under conditions, any combine, any match filter, a cap per customer on a fixed amount. Stored
 * documents must be equal: lines, excluded and review items, notices, totals, counts and hash,
 * both on a first preview and on one after an apply (what was already paid, and support's
 * refunds meanwhile, make zero and negative differences).
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { previewsInSql } from "../../src/compensation/preview-sql.ts";
import { createPreview } from "../../src/compensation/runs.ts";
import type { CompSession } from "../../src/core/compensation/engine.ts";
import { PolicySchema } from "../../src/core/compensation/policy.ts";
import { evaluate } from "../../src/core/compensation/preview.ts";
import type { TestApp } from "../support/app.ts";
import { BACKENDS } from "../support/backends.ts";
import {
  amountArb,
  buildScenario,
  combineArb,
  context,
  customerRow,
  DAY,
  importRows as importWorldRows,
  incidentBody,
  matchArb,
  refundActionArb,
  type Scenario,
  scenarioArb,
  sessionRow,
  sometimes,
  startWorldApp,
  whenArb,
} from "./worlds.ts";

/** Now and then a percentage with more digits than int8 holds: computed in numeric. */
const actionArb = fc.oneof(
  { weight: 6, arbitrary: refundActionArb },
  { weight: 1, arbitrary: fc.constant({ refund: { percent: "33.333333333333333333333" } }) },
);

/** A cap per customer on a fixed amount: small enough to bite, in one currency or both. */
const sqlCapArb = fc.oneof(
  fc.integer({ min: 0, max: 6_000 }).map((amount) => ({ per_customer: { amount } })),
  fc.record({ EUR: fc.integer({ min: 0, max: 6_000 }) }).map((amount) => ({ per_customer: { amount } })),
  fc
    .record({ EUR: fc.integer({ min: 0, max: 6_000 }), GBP: fc.integer({ min: 0, max: 6_000 }) })
    .map((amount) => ({ per_customer: { amount } })),
);

/** Credits per customer: money (fixed, or a credit with a validity) or units. */
const creditRuleArb = fc.record({
  when: sometimes(whenArb),
  action: fc.oneof(
    amountArb.map((fixed) => ({ fixed })),
    amountArb.map((amount) => ({ credit: { amount, valid_for: "P90D" } })),
    fc
      .record({
        unit: fc.constantFrom("minutes", "rides"),
        amount: fc.integer({ min: 1, max: 120 }),
        scope: fc.option(fc.constantFrom("home_city", "berlin"), { nil: undefined }),
      })
      .map((credit) => ({ credit: { ...credit, valid_for: "P30D", visible_within: "P2D" } })),
  ),
  per: fc.option(fc.constant("customer" as const), { nil: undefined }),
  max_per_customer: fc.option(fc.integer({ min: 1, max: 2 }), { nil: undefined }),
});

/** Top-level session refunds and customer credits, each under its own conditions now and then, capped or not. */
const sqlPolicyArb = fc
  .record({
    rounding: fc.constantFrom("half_up", "half_even"),
    currency: fc.option(fc.constant("EUR"), { freq: 3 }),
    cap: fc.option(sqlCapArb, { freq: 2 }),
    match: matchArb,
    combine: combineArb,
    notifyNothingDue: fc.boolean(),
    rules: fc.array(
      fc.oneof(
        { weight: 3, arbitrary: fc.record({ when: sometimes(whenArb), action: actionArb }) },
        { weight: 2, arbitrary: creditRuleArb },
      ),
      { minLength: 1, maxLength: 4 },
    ),
  })
  .map((p) => ({
    policy: "sql",
    rounding: p.rounding,
    ...(p.currency && { currency: p.currency }),
    ...(p.cap && { cap: p.cap }),
    match: p.match,
    combine: p.combine,
    ...(!p.notifyNothingDue && { notify: { when_nothing_due: false } }),
    rules: p.rules.map(({ when, ...r }, i) => ({
      id: `r${i}`,
      ...(when && Object.keys(when).length > 0 && { when }),
      ...JSON.parse(JSON.stringify(r)),
    })),
  }));

describe.each(BACKENDS)("the preview in SQL on %s", (backend) => {
  let t: TestApp;
  let counter = 0;
  beforeAll(async () => {
    t = await startWorldApp(backend);
  });
  afterAll(() => t?.close());

  async function post(url: string, body: unknown, status = 200) {
    const res = await t.call("POST", url, body);
    expect(res.status, `${url}: ${JSON.stringify(res.json)}`).toBe(status);
    return res.json;
  }
  const importRows = (kind: string, rows: Record<string, unknown>[]) => importWorldRows(t, kind, rows);
  /** Both ways: the stored documents, which must be equal, and the SQL one's run. */
  async function previewBothWays(incidentId: string, policyId: string, scenario: Scenario) {
    const input = {
      incidentId,
      policyId,
      asOf: new Date(scenario.asOf),
      detectedAt: new Date(scenario.window.start),
    };
    const now = new Date(scenario.asOf);
    const inSql = await createPreview(t.database, t.workspaceId, input, "test", now);
    const inEngine = await createPreview(
      t.database,
      t.workspaceId,
      { ...input, engineOnly: true },
      "test",
      now,
    );
    const doc = async (id: string) => (await t.call("GET", `/api/v1/compensation-runs/${id}/preview`)).json;
    const [sqlDoc, engineDoc] = [await doc(inSql.id), await doc(inEngine.id)];
    const strip = (d: any) => ({ ...d, run: undefined });
    expect(strip(sqlDoc)).toEqual(strip(engineDoc));
    expect(inSql.summary).toEqual(inEngine.summary);
    expect(inSql.previewHash).toBe(inEngine.previewHash);
    return { run: inSql, doc: sqlDoc };
  }

  /** Lines, notices and totals as the pure engine computes them, given what was applied. */
  async function expectPure(doc: any, policyInput: object, scenario: Scenario, incidentId: string) {
    const applied = await t.database.query<{ action_key: string; total: number }>(
      "select action_key, sum(amount)::int8 as total from ledger_entries where incident_id = $1 group by action_key",
      [incidentId],
    );
    const others = await t.database.query<{ refund_of: string; total: number }>(
      "select refund_of, sum(amount)::int8 as total from ledger_entries where incident_id <> $1 and refund_of is not null group by refund_of",
      [incidentId],
    );
    const policy = PolicySchema.parse(policyInput);
    const pure = evaluate(
      {
        ...context(policy, scenario, incidentId),
        applied: new Map(applied.map((r) => [r.action_key, Number(r.total)])),
        refundedForOtherIncidents: new Map(others.map((r) => [r.refund_of, Number(r.total)])),
      },
      scenario.customers,
      // what a preview reads: sessions touching the window, edges included
      scenario.sessions.filter(
        (s) => s.start <= scenario.window.end && (s.end ?? Infinity) >= scenario.window.start,
      ),
      [],
    );
    expect(doc.lines).toEqual(pure.lines);
    const item = (x: any) => ({
      customerId: x.customer_id ?? x.customerId,
      reference: x.reference,
      reason: x.reason,
    });
    const byRef = (a: any, b: any) =>
      `${a.customerId}\u0000${a.reference}\u0000${a.reason}` <
      `${b.customerId}\u0000${b.reference}\u0000${b.reason}`
        ? -1
        : 1;
    // Stored items are a set: a customer two credit rules name no amount for is excluded once,
    // and a session that shares its customer's id is one reference with them.
    const distinct = (list: any[]) => [...new Map(list.map((x) => [JSON.stringify(x), x])).values()];
    expect(doc.excluded.map(item).sort(byRef)).toEqual(distinct(pure.excluded.map(item)).sort(byRef));
    expect(doc.review.map(item).sort(byRef)).toEqual(distinct(pure.review.map(item)).sort(byRef));
    expect(
      doc.notifications.map((n: any) => ({
        customerId: n.customer_id,
        nothingDue: n.nothing_due,
        keys: n.keys,
      })),
    ).toEqual(pure.notifications);
    expect(doc.totals).toEqual({ money: pure.totals.money, units: pure.totals.units });
  }

  it("computes what the engine computes, before and after an apply", async () => {
    const arb = fc.record({
      world: scenarioArb(5, 4),
      policy: sqlPolicyArb,
      second: sqlPolicyArb,
      // a session re-imported under another customer: what was paid for it stays paid
      moved: fc.option(fc.record({ session: fc.nat(), customer: fc.nat() }), { freq: 2 }),
      refundsMeanwhile: fc.array(fc.record({ session: fc.nat(), pct: fc.integer({ min: 1, max: 100 }) }), {
        maxLength: 4,
      }),
    });
    await fc.assert(
      fc.asyncProperty(arb, async ({ world, policy, second, moved, refundsMeanwhile }) => {
        const n = ++counter;
        const incidentId = `SQL-${n}`;
        const scenario = buildScenario(world.specs, world.incidentComponents, `q${n}-`, -n * 7 * DAY);
        await importRows("customers", scenario.customers.map(customerRow));
        await importRows("sessions", scenario.sessions.map(sessionRow));
        await post("/api/v1/incidents", incidentBody(incidentId, `SQL ${n}`, scenario), 201);
        await post(`/api/v1/incidents/${incidentId}/resolve`, {
          resolved_at: new Date(scenario.window.end).toISOString(),
        });
        const policies = [policy, second].map((p, i) => ({
          ...p,
          policy: `sql-${n}-${i}`,
          match: { ...p.match, incident: incidentId },
        }));
        for (const p of policies) {
          expect(previewsInSql(PolicySchema.parse(p))).toBe(true);
          await post("/api/v1/policies", { yaml: JSON.stringify(p) }, 201);
        }

        const first = await previewBothWays(incidentId, policies[0]!.policy, scenario);
        await expectPure(first.doc, policies[0]!, scenario, incidentId);
        await post(`/api/v1/compensation-runs/${first.run.id}/approve`, undefined);
        await post(`/api/v1/compensation-runs/${first.run.id}/apply`, undefined);

        // Support refunds some sessions meanwhile; then a second policy over what was paid.
        const changed = new Map<string, CompSession>();
        for (const { session, pct } of refundsMeanwhile) {
          if (scenario.sessions.length === 0) break;
          const s =
            changed.get(scenario.sessions[session % scenario.sessions.length]!.id) ??
            scenario.sessions[session % scenario.sessions.length]!;
          changed.set(s.id, {
            ...s,
            refunded: s.refunded + Math.ceil(((s.charge - s.refunded) * pct) / 100),
          });
        }
        // (a session the first run paid, if there is one: where it matters)
        const paid = scenario.sessions.filter((x) => first.doc.lines.some((l: any) => l.session === x.id));
        const movable = paid.length > 0 ? paid : scenario.sessions;
        if (moved && movable.length > 0) {
          const s = movable[moved.session % movable.length]!;
          const to = scenario.customers[moved.customer % scenario.customers.length]!.id;
          changed.set(s.id, { ...(changed.get(s.id) ?? s), customerId: to });
        }
        await importRows("sessions", [...changed.values()].map(sessionRow));
        const after = { ...scenario, sessions: scenario.sessions.map((s) => changed.get(s.id) ?? s) };
        const again = await previewBothWays(incidentId, policies[1]!.policy, after);
        await expectPure(again.doc, policies[1]!, after, incidentId);

        // A second incident over the same sessions: what the first refunded bounds its refunds.
        const otherId = `${incidentId}-b`;
        await post("/api/v1/incidents", incidentBody(otherId, `SQL ${n} b`, scenario), 201);
        await post(`/api/v1/incidents/${otherId}/resolve`, {
          resolved_at: new Date(scenario.window.end).toISOString(),
        });
        const other = {
          ...policies[1]!,
          policy: `sql-${n}-b`,
          match: { ...policies[1]!.match, incident: otherId },
        };
        await post("/api/v1/policies", { yaml: JSON.stringify(other) }, 201);
        const beside = await previewBothWays(otherId, other.policy, after);
        await expectPure(beside.doc, other, after, otherId);
      }),
      { numRuns: Number(process.env.RUNS ?? 40) },
    );
    // three previews each way per case, on two cores shared with the rest of the suite
  }, 120_000);

  it("leaves every other shape to the engine", () => {
    const base = { policy: "x", rules: [{ id: "a", action: { refund: "session_charge" } }] };
    const parse = (p: object) => PolicySchema.parse({ ...base, ...p });
    expect(previewsInSql(parse({}))).toBe(true);
    expect(previewsInSql(parse({ cap: { per_customer: { amount: 100 } } }))).toBe(true);
    expect(previewsInSql(parse({ cap: { per_customer: { pct_of_monthly_fee: "50" } } }))).toBe(false);
    expect(previewsInSql(parse({ cap: { per_customer_per_month: { amount: 100 } } }))).toBe(false);
    expect(previewsInSql(parse({ downtime: "per_customer" }))).toBe(false);
    // durations past 100 years are refused by the policy itself, so SQL never meets them
    const long = { id: "a", when: { overlap_lt: "P200000000D" }, action: { refund: "session_charge" } };
    expect(() => parse({ rules: [long] })).toThrow(/100 years/);
    expect(previewsInSql(parse({ rules: [{ id: "a", action: { fixed: 100 } }] }))).toBe(true);
    expect(previewsInSql(parse({ rules: [{ id: "a", per: "session", action: { fixed: 100 } }] }))).toBe(
      false,
    );
    expect(previewsInSql(parse({ rules: [{ id: "a", action: { percent_of_monthly_fee: "10" } }] }))).toBe(
      false,
    );
    expect(
      previewsInSql(parse({ rules: [{ id: "a", per: "customer", action: { refund: "session_charge" } }] })),
    ).toBe(false);
    expect(
      previewsInSql(
        parse({ rules: [{ id: "a", max_per_customer: 1, action: { refund: "session_charge" } }] }),
      ),
    ).toBe(false);
    expect(previewsInSql(parse({ rules: undefined, groups: [{ id: "g", rules: base.rules }] }))).toBe(false);
  });
});
