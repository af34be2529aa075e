import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildServer } from "../../src/http/server.ts";
import { startTestApp, type TestApp } from "../support/app.ts";
import { StripeFake } from "../support/stripe-fake.ts";
import { A, B } from "./examples.ts";

const yaml = (name: string) =>
  readFileSync(join(import.meta.dirname, "../../examples/policies", `${name}.yaml`), "utf8");

describe("Stripe export through Stripe's SDK", () => {
  let t: TestApp;
  let stripe: StripeFake;
  let call: (method: string, url: string, body?: unknown) => Promise<{ status: number; json: any }>;

  beforeAll(async () => {
    stripe = await new StripeFake().start();
    t = await startTestApp("pglite");
    // The same database, served by an app that knows the Stripe fake.
    const app = await buildServer({
      database: t.database,
      stripe: { apiKey: "sk_test_amends", base: stripe.url },
    });
    call = async (method, url, body) => {
      const res = await app.inject({
        method: method as "GET",
        url,
        headers: { authorization: `Bearer ${t.token}` },
        ...(body !== undefined && { payload: body as object }),
      });
      return { status: res.statusCode, json: res.json() };
    };
  });
  afterAll(async () => {
    await t.close();
    await stripe.stop();
  });

  async function applied(
    incident: { id: string; start: string },
    policy: string,
    runBody: Record<string, string> = {},
  ) {
    await call("POST", "/api/v1/policies", { yaml: yaml(policy) });
    const run = await call("POST", `/api/v1/incidents/${incident.id}/compensation-runs`, {
      policy: policy,
      ...runBody,
    });
    expect(run.status, JSON.stringify(run.json)).toBe(201);
    await call("POST", `/api/v1/compensation-runs/${run.json.id}/approve`);
    expect((await call("POST", `/api/v1/compensation-runs/${run.json.id}/apply`)).status).toBe(200);
    return run.json.id as string;
  }

  it("refunds A's sessions once, however often the export runs", async () => {
    await call("POST", "/api/v1/components", { id: "rental-backend", name: "Rental backend" });
    await call(
      "POST",
      "/api/v1/import/customers",
      A.customers.map((c) => ({ id: c.id, currency: "EUR" })),
    );
    await call(
      "POST",
      "/api/v1/import/sessions",
      A.sessions.map((s) => ({
        id: s.id,
        customer_id: s.customerId,
        kind: s.kind,
        component_id: s.componentId,
        started_at: new Date(s.start).toISOString(),
        ended_at: new Date(s.end!).toISOString(),
        charge: s.charge,
        currency: "EUR",
        refunded: s.refunded,
      })),
    );
    await call(
      "POST",
      "/api/v1/import/charges",
      A.sessions.map((s) => ({
        id: `ch_${s.id}`,
        customer_id: s.customerId,
        usage_ref: s.id,
        amount: s.charge,
        currency: "EUR",
        status: "succeeded",
        created_at: new Date(s.end!).toISOString(),
        amount_refunded: s.refunded,
      })),
    );
    for (const s of A.sessions)
      stripe.charges.set(`ch_${s.id}`, { amount: s.charge, refunded: s.refunded, currency: "eur" });
    await call("POST", "/api/v1/incidents", {
      id: A.incident.id,
      title: "Rentals cannot be ended",
      body: "x",
      started_at: A.incident.start,
    });
    await call("POST", `/api/v1/incidents/${A.incident.id}/resolve`, { resolved_at: A.incident.end });
    const runId = await applied(A.incident, "car2go-2017-outage");

    const first = await call("POST", `/api/v1/compensation-runs/${runId}/export/stripe`, {});
    expect(first.json).toEqual({ sent: 3, alreadySent: 0, failed: [] });
    expect(stripe.effects.map((e) => [e.body.charge, e.body.amount, e.key])).toEqual([
      ["ch_S1", 8050, "INC-2017-12-19:S1:refund@13050"],
      ["ch_S3", 363, "INC-2017-12-19:S3:refund@363"],
      ["ch_S4", 435, "INC-2017-12-19:S4:refund@435"],
    ]);
    expect((await call("POST", `/api/v1/compensation-runs/${runId}/export/stripe`, {})).json).toEqual({
      sent: 0,
      alreadySent: 3,
      failed: [],
    });
    // Our record of the first export is lost (a crash after Stripe answered): Stripe replays by key.
    await t.database.query("delete from billing_exports");
    expect((await call("POST", `/api/v1/compensation-runs/${runId}/export/stripe`, {})).json.sent).toBe(3);
    expect(stripe.effects).toHaveLength(3);
    expect(stripe.charges.get("ch_S1")).toEqual({ amount: 13050, refunded: 13050, currency: "eur" });
  });

  it("credits money to each customer's balance in Stripe, under their Stripe id", async () => {
    await call(
      "POST",
      "/api/v1/import/customers",
      A.customers.map((c) => ({ id: c.id, currency: "EUR", stripe_customer_id: `cus_A${c.id}` })),
    );
    for (const c of A.customers) stripe.customers.add(`cus_A${c.id}`);
    const policy = `policy: a-goodwill
match: {incident: ${A.incident.id}}
rules:
  - {id: goodwill, per: customer, action: {credit: {amount: {EUR: 500}}}}
`;
    await call("POST", "/api/v1/policies", { yaml: policy });
    const run = await call("POST", `/api/v1/incidents/${A.incident.id}/compensation-runs`, {
      policy: "a-goodwill",
    });
    await call("POST", `/api/v1/compensation-runs/${run.json.id}/approve`);
    await call("POST", `/api/v1/compensation-runs/${run.json.id}/apply`);
    const before = stripe.effects.length;
    const res = await call("POST", `/api/v1/compensation-runs/${run.json.id}/export/stripe`, {});
    // everyone whose sessions overlapped the window: C1–C4 (C5's began at its end)
    expect(res.json).toEqual({ sent: 4, alreadySent: 0, failed: [] });
    expect(
      stripe.effects.slice(before).map((e) => [e.object, e.body.customer, e.body.amount, e.body.currency]),
    ).toEqual(
      ["C1", "C2", "C3", "C4"].map((c) => ["customer_balance_transaction", `cus_A${c}`, -500, "eur"]),
    );
  });

  it("turns B's free minutes into promotional credit grants priced by the city rate", async () => {
    await call(
      "POST",
      "/api/v1/import/customers",
      // K3 has no Stripe customer on record: its grant cannot be booked, and says why.
      B.customers.map((c) => ({
        id: c.id,
        home_region: c.homeRegion,
        currency: "EUR",
        ...(c.id !== "K3" && { stripe_customer_id: `cus_${c.id}` }),
      })),
    );
    for (const c of B.customers) stripe.customers.add(`cus_${c.id}`);
    await call(
      "POST",
      "/api/v1/import/charges",
      B.charges.map((c) => ({
        id: c.id,
        customer_id: c.customerId,
        usage_ref: c.usageRef,
        amount: c.amount,
        currency: "EUR",
        status: "succeeded",
        created_at: new Date(c.createdAt).toISOString(),
        amount_refunded: c.amountRefunded,
      })),
    );
    for (const c of B.charges)
      stripe.charges.set(c.id, { amount: c.amount, refunded: c.amountRefunded, currency: "eur" });
    await call("POST", "/api/v1/incidents", {
      id: B.incident.id,
      title: "Charged twice",
      body: "x",
      started_at: B.incident.start,
    });
    const runId = await applied(B.incident, "car2go-2014-double-charge", {
      as_of: B.runAt,
      detected_at: B.incident.detected,
    });
    const before = stripe.effects.length;
    const res = await call("POST", `/api/v1/compensation-runs/${runId}/export/stripe`, {
      unit_prices: { minutes: { amount: 29, currency: "EUR" } },
    });
    expect(res.json).toMatchObject({
      sent: 5,
      failed: [
        {
          key: expect.stringMatching(/:K3:credit_minutes@/),
          error: 'customer "K3" has no stripe_customer_id: import it with the customer',
        },
      ],
    });
    const grants = stripe.effects.slice(before).filter((e) => e.object === "billing.credit_grant");
    expect(
      grants.map((g) => [g.body.customer, g.body.amount.monetary.value, g.body.category, g.body.expires_at]),
    ).toEqual([
      ["cus_K1", 870, "promotional", Date.parse("2015-02-15T10:00:00Z") / 1000],
      ["cus_K2", 870, "promotional", Date.parse("2015-02-15T10:00:00Z") / 1000],
    ]);
    const refunds = stripe.effects.slice(before).filter((e) => e.object === "refund");
    expect(refunds.map((r) => [r.body.charge, r.body.amount, r.body.reason])).toEqual([
      ["ch_1002", 1160, "duplicate"],
      ["ch_1005", 870, "duplicate"],
      ["ch_1006", 870, "duplicate"],
    ]);
  });

  it("refuses to export a run that was not applied, and says when Stripe is not configured", async () => {
    const run = await call("POST", `/api/v1/incidents/${A.incident.id}/compensation-runs`, {
      policy: "car2go-2017-outage",
    });
    expect((await call("POST", `/api/v1/compensation-runs/${run.json.id}/export/stripe`, {})).status).toBe(
      409,
    );
    expect(
      (await t.call("POST", `/api/v1/compensation-runs/${run.json.id}/export/stripe`, {})).json.detail,
    ).toMatch(/STRIPE_API_KEY/);
  });
});

describe("invoiced charges", () => {
  it("are refunded through a credit note on the invoice", async () => {
    const stripe = await new StripeFake().start();
    const t = await startTestApp("pglite");
    try {
      const app = await buildServer({
        database: t.database,
        stripe: { apiKey: "sk_test_amends", base: stripe.url },
      });
      const call = async (method: string, url: string, body?: unknown) =>
        (
          await app.inject({
            method: method as "GET",
            url,
            headers: { authorization: `Bearer ${t.token}` },
            ...(body !== undefined && { payload: body as object }),
          })
        ).json();
      await call("POST", "/api/v1/import/customers", [
        { id: "K1", currency: "EUR", stripe_customer_id: "cus_K1" },
      ]);
      stripe.customers.add("cus_K1");
      await call("POST", "/api/v1/import/charges", [
        {
          id: "ch_1",
          customer_id: "K1",
          usage_ref: "R1",
          amount: 1160,
          currency: "EUR",
          status: "succeeded",
          created_at: "2014-11-10T08:15:02Z",
          invoice_id: "in_1",
        },
        {
          id: "ch_2",
          customer_id: "K1",
          usage_ref: "R1",
          amount: 1160,
          currency: "EUR",
          status: "succeeded",
          created_at: "2014-11-10T08:15:04Z",
          invoice_id: "in_2",
        },
      ]);
      stripe.invoices.set("in_2", { customer: "K1", amountPaid: 1160, credited: 0, currency: "eur" });
      await call("POST", "/api/v1/incidents", {
        id: B.incident.id,
        title: "Charged twice",
        body: "x",
        started_at: B.incident.start,
      });
      await call("POST", "/api/v1/policies", { yaml: yaml("car2go-2014-double-charge") });
      const run = await call("POST", `/api/v1/incidents/${B.incident.id}/compensation-runs`, {
        policy: "car2go-2014-double-charge",
        as_of: B.runAt,
      });
      await call("POST", `/api/v1/compensation-runs/${run.id}/approve`);
      await call("POST", `/api/v1/compensation-runs/${run.id}/apply`);
      const res = await call("POST", `/api/v1/compensation-runs/${run.id}/export/stripe`, {
        unit_prices: { minutes: { amount: 29, currency: "EUR" } },
      });
      expect(res, JSON.stringify(res)).toMatchObject({ sent: 2, failed: [] });
      const note = stripe.effects.find((e) => e.object === "credit_note")!;
      expect(note.body).toMatchObject({
        invoice: "in_2",
        amount: 1160,
        reason: "duplicate",
        status: "issued",
      });
      expect(stripe.invoices.get("in_2")!.credited).toBe(1160);
    } finally {
      await t.close();
      await stripe.stop();
    }
  });
});
