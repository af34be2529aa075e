import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parsePolicyYaml } from "../../src/compensation/policy-yaml.ts";
import type { EngineContext } from "../../src/core/compensation/engine.ts";
import { evaluate } from "../../src/core/compensation/preview.ts";
import { A, B, C } from "./examples.ts";

const policy = (name: string, edit: (s: string) => string = (s) => s) =>
  parsePolicyYaml(
    edit(readFileSync(join(import.meta.dirname, "../../examples/policies", `${name}.yaml`), "utf8")),
  );

function ctx(
  p: ReturnType<typeof policy>,
  incident: { id: string; start: string; end: string; detected?: string },
  extra: Partial<EngineContext> = {},
): EngineContext {
  return {
    policy: p,
    incident: {
      id: incident.id,
      window: { start: Date.parse(incident.start), end: Date.parse(incident.end) },
      detectedAt: Date.parse(incident.detected ?? incident.start),
      components: [],
    },
    parents: new Map(),
    asOf: Date.parse(incident.end) + 86_400_000,
    applied: new Map(),
    ...extra,
  };
}

const amounts = (lines: { key: string; amount: number }[]) =>
  Object.fromEntries(lines.map((l) => [l.key, l.amount]));

describe("A: car2go outage, 19 Dec 2017", () => {
  const parents = new Map(A.components.map((c) => [c.id, c.parentId]));
  const run = (p = policy("car2go-2017-outage"), applied = new Map<string, number>()) =>
    evaluate(ctx(p, A.incident, { parents, applied }), A.customers, A.sessions, []);

  it("refunds S1 whole (less support's 5000), S4 and S3 pro rata, and nothing else", () => {
    const preview = run();
    expect(amounts(preview.lines)).toEqual({
      "INC-2017-12-19:S1:refund": 8050,
      "INC-2017-12-19:S4:refund": 435,
      "INC-2017-12-19:S3:refund": 363,
    });
    expect(preview.lines.find((l) => l.session === "S1")!.rule).toBe("whole_session");
    expect(Object.fromEntries(preview.excluded.map((e) => [e.reference, e.reason]))).toEqual({
      S5: "component_mismatch",
      S6: "no_overlap",
      S7: "below_min_overlap",
    });
    expect(preview.totals.money).toEqual({ EUR: 8848 });
    expect(Object.fromEntries(preview.perCustomer.map((c) => [c.customerId, c.totals.money.EUR]))).toEqual({
      C1: 8485,
      C3: 363,
    });
  });

  it("rounds S3 half-even to 362 when asked", () => {
    const preview = run(
      policy("car2go-2017-outage", (s) => s.replace("rounding: half_up", "rounding: half_even")),
    );
    expect(preview.lines.find((l) => l.session === "S3")!.amount).toBe(362);
  });

  it("pays nothing on a second run after the first was applied", () => {
    const first = run();
    const applied = new Map(first.lines.map((l) => [l.key, l.amount]));
    const second = run(policy("car2go-2017-outage"), applied);
    expect(second.lines).toEqual([]);
    expect(second.totals.money).toEqual({});
  });

  it("without whole_session pays S1 29 × 430 − 5000 = 7470", () => {
    const p = policy("car2go-2017-outage", (s) => s.replace(/ {2}- \{id: whole_session.*\n/, ""));
    const preview = run(p);
    const s1 = preview.lines.find((l) => l.session === "S1")!;
    expect(s1.target).toBe(12470);
    expect(s1.amount).toBe(7470);
  });

  it("sends S1 to review, not claw-back, when support refunded more than the target", () => {
    const p = policy("car2go-2017-outage", (s) => s.replace(/ {2}- \{id: whole_session.*\n/, ""));
    const sessions = A.sessions.map((s) => (s.id === "S1" ? { ...s, refunded: 13000 } : s));
    const preview = evaluate(
      ctx(p, A.incident, { parents: new Map(A.components.map((c) => [c.id, c.parentId])) }),
      A.customers,
      sessions,
      [],
    );
    expect(preview.lines.find((l) => l.session === "S1")).toBeUndefined();
    expect(preview.review).toMatchObject([
      { reference: "S1", reason: "negative_delta", key: "INC-2017-12-19:S1:refund" },
    ]);
  });

  it("tells C1, C2 (nothing due) and C3, once each", () => {
    expect(run().notifications.map((n) => [n.customerId, n.nothingDue])).toEqual([
      ["C1", false],
      ["C2", true],
      ["C3", false],
    ]);
  });
});

describe("B: car2go double charge, Nov 2014", () => {
  const run = () =>
    evaluate(
      ctx(policy("car2go-2014-double-charge"), B.incident, { asOf: Date.parse(B.runAt) }),
      B.customers,
      [],
      B.charges,
    );

  it("refunds the three duplicates and credits 30 minutes to K1, K2 and K3", () => {
    const preview = run();
    const refunds = preview.lines.filter((l) => l.kind === "refund");
    expect(Object.fromEntries(refunds.map((l) => [l.charge, l.amount]))).toEqual({
      ch_1002: 1160,
      ch_1005: 870,
      ch_1006: 870,
    });
    for (const r of refunds) {
      expect(r.reason).toBe("duplicate");
      expect(r.dueBy).toBe("2014-11-21T09:00:00.000Z");
    }
    expect(preview.totals.money).toEqual({ EUR: 2900 });
    const credits = preview.lines.filter((l) => l.kind === "unit_credit");
    expect(credits.map((c) => [c.customerId, c.amount, c.unit, c.scope])).toEqual([
      ["K1", 30, "minutes", "berlin"],
      ["K2", 30, "minutes", "hamburg"],
      ["K3", 30, "minutes", "munich"],
    ]);
    for (const c of credits) {
      expect(c.expiresAt).toBe("2015-02-15T10:00:00.000Z");
      expect(c.visibleBy).toBe("2014-11-19T10:00:00.000Z");
    }
    expect(preview.totals.units).toEqual({ minutes: 90 });
  });

  it("leaves ch_1003 and ch_1008 alone and queues K5 and K6 for review", () => {
    const preview = run();
    expect(preview.lines.some((l) => l.charge === "ch_1003" || l.charge === "ch_1008")).toBe(false);
    expect(preview.review.map((r) => [r.customerId, r.reference, r.reason])).toEqual([
      ["K5", "ch_1012", "outside_fault_window"],
      ["K6", "ch_1014", "weak_key_duplicate"],
    ]);
    expect(preview.notifications.map((n) => n.customerId)).toEqual(["K1", "K2", "K3"]);
  });
});

describe("C: ISP tower T-17 power cut, March 2025", () => {
  const parents = new Map(C.components.map((c) => [c.id, c.parentId]));
  const run = (edit?: (s: string) => string) =>
    evaluate(ctx(policy("isp-tower-outage", edit), C.incident, { parents }), C.customers, C.sessions, []);

  it("pays U1 3428, U2 200, B1 3000 (capped), B2 1125; U3 is unaffected", () => {
    const preview = run();
    expect(Object.fromEntries(preview.lines.map((l) => [l.customerId, l.amount]))).toEqual({
      U1: 3428,
      U2: 200,
      B1: 3000,
      B2: 1125,
    });
    const u1 = preview.lines.find((l) => l.customerId === "U1")!;
    expect(u1.breakdown).toEqual([
      { rule: "per_day", amount: 2928 },
      { rule: "goodwill", amount: 500 },
    ]);
    expect(preview.totals.money).toEqual({ GBP: 7753 });
    expect(preview.excluded).toEqual([{ customerId: "U3", reference: "U3-a", reason: "component_mismatch" }]);
    expect(preview.notifications.map((n) => n.customerId)).toEqual(["B1", "B2", "U1", "U2"]);
  });

  it("with whole_days_only pays U1 2 × 976 + 500 = 2452", () => {
    const preview = run((s) => s.replace("partial_day_counts", "whole_days_only"));
    expect(preview.lines.find((l) => l.customerId === "U1")!.amount).toBe(2452);
  });
});

describe("money rules of the research", () => {
  const H = 3_600_000;
  const W = { id: "INC-R", start: "2025-01-01T00:00:00Z", end: "2025-01-01T06:00:00Z" };
  const w0 = Date.parse(W.start);
  const customer = (id: string, currency: string | null = "EUR") => ({
    id,
    homeRegion: "milan",
    plan: null,
    monthlyFee: null,
    currency,
  });
  const session = (id: string, from: number, to: number, charge: number, refunded = 0) => ({
    id,
    customerId: "K",
    kind: "rental",
    componentId: null,
    region: "milan",
    start: w0 + from * H,
    end: w0 + to * H,
    charge,
    currency: "EUR",
    refunded,
  });
  const run = (yaml: string, sessions: ReturnType<typeof session>[], currency?: string | null) =>
    evaluate(ctx(parsePolicyYaml(yaml), W), [customer("K", currency)], sessions, []);

  it("rounds a summed line once, not each rule", () => {
    // three times 20 % of 1 cent: 0.6, one cent; rounded per rule it would be nothing
    const preview = run(
      `policy: sum
combine: sum
rules:
  - {id: a, action: {refund: {percent: "20"}}}
  - {id: b, action: {refund: {percent: "20"}}}
  - {id: c, action: {refund: {percent: "20"}}}
`,
      [session("S", 1, 2, 1)],
    );
    expect(preview.lines.map((l) => [l.key, l.amount, l.rule])).toEqual([["INC-R:S:refund", 1, "a+b+c"]]);
  });

  it("counts a customer's downtime as the union of their sessions, gaps left out", () => {
    // 01:00–02:00 and 04:00–05:00: two hours down, although four hours pass between them
    const preview = run(
      `policy: tiers
rules:
  - id: tier
    per: customer
    action:
      tiers_by_duration:
        - {lt: PT3H, amount: 100}
        - {gte: PT3H, amount: 500}
`,
      [session("S1", 1, 2, 0), session("S2", 4, 5, 0)],
    );
    expect(amounts(preview.lines)).toEqual({ "INC-R:K:credit": 100 });
  });

  it("caps in the lines' currency when the customer has none recorded", () => {
    const preview = run(
      `policy: capped
cap: {per_customer: {amount: {EUR: 150}}}
rules:
  - {id: flat, per: customer, action: {fixed: {EUR: 500}}}
`,
      [session("S", 1, 2, 1000)],
      null,
    );
    expect(amounts(preview.lines)).toEqual({ "INC-R:K:credit": 150 });
  });

  it("refunds what other incidents left of a charge, and no more", () => {
    const p = parsePolicyYaml(`policy: whole
rules:
  - {id: whole, action: {refund: session_charge}}
`);
    const preview = evaluate(
      ctx(p, W, { refundedForOtherIncidents: new Map([["session:S", 700]]) }),
      [customer("K")],
      [session("S", 1, 2, 1000, 100)],
      [],
    );
    expect(amounts(preview.lines)).toEqual({ "INC-R:S:refund": 200 });
  });
});

describe("B, when the original charge was refunded", () => {
  it("refunds only what the customer paid beyond one charge", () => {
    // K2 paid R3 three times (ch_1004, ch_1005, ch_1006); support refunded the original
    const charges = B.charges.map((c) => (c.id === "ch_1004" ? { ...c, amountRefunded: 870 } : c));
    const preview = evaluate(
      ctx(policy("car2go-2014-double-charge"), B.incident, { asOf: Date.parse(B.runAt) }),
      B.customers,
      [],
      charges,
    );
    const refunds = preview.lines.filter((l) => l.kind === "refund" && l.customerId === "K2");
    expect(Object.fromEntries(refunds.map((l) => [l.charge, l.amount]))).toEqual({ ch_1005: 870 });
    expect(preview.excluded).toContainEqual({
      customerId: "K2",
      reference: "ch_1006",
      reason: "already_refunded",
    });
  });
});
