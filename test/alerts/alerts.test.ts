/**
 * Alerts in from the company's monitoring, with each tool's documented webhook body (fixtures):
 * Alertmanager's firing, re-firing and resolving alerts keep one incident that names every city
 * that fails and resolves after the quiet period; a replay changes nothing; a wrong token is
 * refused; a flapping alert does not storm the page; Grafana, Datadog, PagerDuty (signed) and
 * Opsgenie open and resolve the right incident. On PGlite and PostgreSQL.
 */
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { FAST, type MonitorApp, startMonitorApp } from "../monitors/support.ts";
import { BACKENDS } from "../support/backends.ts";
import { until } from "../support/until.ts";

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), "utf8"));

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** A quiet period short enough not to wait on; the flapping test keeps the monitors' FAST one. */
const QUICK = { recoveryQuietMs: 300, flapWindowMs: 60_000, flapThreshold: 6 };

async function setUp(backend: (typeof BACKENDS)[number], damping = QUICK) {
  const t = await startMonitorApp(backend, damping);
  cleanup.push(t.close);
  const tree: [string, string, string?][] = [
    ["rentals", "Rentals"],
    ["end-rental-milan", "End rental in Milan", "rentals"],
    ["end-rental-rome", "End rental in Rome", "rentals"],
    ["charging", "Charging"],
    ["charging-rome", "Charging in Rome", "charging"],
    ["payments", "Payments"],
  ];
  for (const [id, name, parentId] of tree)
    expect(
      (await t.call("POST", "/api/v1/components", { id, name, ...(parentId && { parent_id: parentId }) }))
        .status,
    ).toBe(201);
  return t;
}

async function integrate(t: MonitorApp, body: Record<string, unknown>) {
  const created = await t.call("POST", "/api/v1/alert-integrations", body);
  expect(created.status, JSON.stringify(created.json)).toBe(201);
  return created.json as { id: string; token: string; webhookUrl: string };
}

async function deliver(
  t: MonitorApp,
  hook: { webhookUrl: string; token?: string },
  body: unknown,
  headers: Record<string, string> = {},
) {
  const payload = typeof body === "string" ? body : JSON.stringify(body);
  const res = await t.app.inject({
    method: "POST",
    url: hook.webhookUrl,
    headers: {
      "content-type": "application/json",
      ...(hook.token && { authorization: `Bearer ${hook.token}` }),
      ...headers,
    },
    payload,
  });
  return { status: res.statusCode, json: res.json() };
}

const incidents = async (t: MonitorApp) => (await t.call("GET", "/api/v1/incidents")).json.incidents as any[];
const incident = async (t: MonitorApp, id: string) => (await t.call("GET", `/api/v1/incidents/${id}`)).json;
const integration = async (t: MonitorApp, id: string) =>
  (await t.call("GET", `/api/v1/alert-integrations/${id}`)).json;

/** Alertmanager's body for one alert in one city, firing or resolved. */
function am(city: string, status: "firing" | "resolved", startsAt = "2026-12-06T20:01:30.000Z") {
  const body = fixture("alertmanager");
  const alert = body.alerts[0];
  body.status = status;
  alert.status = status;
  alert.labels.city = city;
  alert.annotations.summary = `End-rental error rate above 20% in ${city}`;
  alert.fingerprint = `fp-${city}`;
  alert.startsAt = startsAt;
  if (status === "resolved") alert.endsAt = "2026-12-06T20:31:30.000Z";
  return body;
}

describe.each(BACKENDS)("alert integrations on %s", (backend) => {
  it("Alertmanager: one incident from firing to resolved, cities added as they fail, replays and wrong tokens change nothing", async () => {
    const t = await setUp(backend);
    const hook = await integrate(t, {
      name: "prod alertmanager",
      tool: "alertmanager",
      rules: [{ match: { service: "rentals" }, components: ["end-rental-{city}"] }],
    });
    expect(hook.webhookUrl).toBe(`/hooks/alerts/${hook.id}`);
    expect(hook.token).toMatch(/^ama_/);

    // No token, a wrong token, an unknown integration: refused alike, and nothing is stored.
    for (const h of [
      { webhookUrl: hook.webhookUrl },
      { webhookUrl: hook.webhookUrl, token: `${hook.token}x` },
      { webhookUrl: "/hooks/alerts/alr_nosuchintegration", token: hook.token },
    ]) {
      const refused = await deliver(t, h, am("milan", "firing"));
      expect(refused.status).toBe(401);
      expect(refused.json.type).toMatch(/unauthenticated/i);
    }
    expect(await incidents(t)).toHaveLength(0);

    // A body of the wrong shape: 400 naming the field.
    const bad = am("milan", "firing");
    delete bad.alerts[0].fingerprint;
    const refused = await deliver(t, hook, bad);
    expect(refused.status).toBe(400);
    expect(refused.json.detail).toContain("alerts.0.fingerprint");
    // Nothing of the refused deliveries was written.
    const before = (await t.call("GET", `/api/v1/alert-integrations/${hook.id}/alerts`)).json;
    expect(before).toEqual({ alerts: [], events: [] });

    // Milan fires: one incident on End rental in Milan, by the integration.
    const first = await deliver(t, hook, am("milan", "firing"));
    expect(first).toMatchObject({ status: 202, json: { received: 1, duplicates: 0, state: "down" } });
    let open = await incidents(t);
    expect(open).toHaveLength(1);
    const id = open[0].id;
    let inc = await incident(t, id);
    expect(inc.title).toBe("Problems with Rentals › End rental in Milan");
    expect(inc.updates[0].created_by).toBe(`integration:${hook.id}`);
    expect(inc.updates[0].team_note).toContain("End-rental error rate above 20% in milan");
    expect(inc.updates[0].body).not.toContain("alertmanager");
    // The public reads what fails in its own words: no integration name, no alert text.
    const page = (await t.app.inject({ url: `/incidents/${encodeURIComponent(id)}` })).body;
    expect(page).toContain("End rental in Milan");
    for (const internal of ["prod alertmanager", "End-rental error rate", "fp-milan", hook.id])
      expect(page).not.toContain(internal);

    // Alertmanager repeats the alert (same startsAt), and the same delivery is replayed: nothing new.
    const again = await deliver(t, hook, am("milan", "firing"));
    expect(again.json).toMatchObject({ received: 1, duplicates: 1, state: "down" });
    expect((await incident(t, id)).updates).toHaveLength(1);

    // Rome fires in the next group notification: the same incident names both cities.
    const both = am("milan", "firing");
    both.alerts.push(am("rome", "firing").alerts[0]);
    expect((await deliver(t, hook, both)).json).toMatchObject({ received: 2, duplicates: 1 });
    open = await incidents(t);
    expect(open).toHaveLength(1);
    inc = await incident(t, id);
    expect(inc.updates).toHaveLength(2);
    expect(inc.updates[1].body).toContain("End rental in Milan and Rentals › End rental in Rome");
    expect(inc.components.map((c: any) => c.component_id ?? c.componentId ?? c.id).sort()).toEqual(
      expect.arrayContaining(["end-rental-milan", "end-rental-rome"]),
    );
    expect((await integration(t, hook.id)).failingComponents.map((c: any) => c.componentId)).toEqual([
      "end-rental-milan",
      "end-rental-rome",
    ]);

    // An alert no rule maps (another team's) is kept but changes nothing.
    const other = am("milan", "firing");
    other.alerts[0].labels.service = "billing";
    other.alerts[0].fingerprint = "fp-billing";
    expect((await deliver(t, hook, other)).status).toBe(202);
    expect((await incident(t, id)).updates).toHaveLength(2);

    // Milan resolves: still down while Rome fires. Then Rome resolves: resolved after the quiet period.
    await deliver(t, hook, am("milan", "resolved"));
    expect((await integration(t, hook.id)).state).toBe("down");
    await deliver(t, hook, am("rome", "resolved"));
    await until(
      "resolved after the quiet period",
      async () => (await incident(t, id)).status === "resolved",
      10_000,
    );
    inc = await incident(t, id);
    expect(inc.updates.at(-1).created_by).toBe(`integration:${hook.id}`);
    expect(inc.updates.at(-1).body).toContain("working normally again");
    expect(await integration(t, hook.id)).toMatchObject({
      state: "up",
      incidentId: null,
      failingComponents: [],
    });
    expect(await incidents(t)).toHaveLength(1);

    // A late replay of the first firing notification opens nothing: it was heard before.
    expect((await deliver(t, hook, am("milan", "firing"))).json).toMatchObject({
      duplicates: 1,
      state: "up",
    });
    expect(await incidents(t)).toHaveLength(1);

    // Every step is in the audit log, done by the integration; what it received is listed.
    const audit = (await t.call("GET", `/api/v1/audit?actor=integration:${hook.id}`)).json.items as any[];
    expect(audit.map((e) => e.action).sort()).toEqual([
      "alert_integration.down",
      "alert_integration.recovered",
      "alert_integration.spread",
    ]);
    const received = (await t.call("GET", `/api/v1/alert-integrations/${hook.id}/alerts`)).json;
    expect(received.alerts.map((a: any) => [a.fingerprint, a.status]).sort()).toEqual([
      ["fp-billing", "firing"],
      ["fp-milan", "resolved"],
      ["fp-rome", "resolved"],
    ]);
    expect(received.events.length).toBe(5);
  }, 60_000);

  it("a flapping alert keeps one incident and does not storm the page", async () => {
    const t = await setUp(backend, FAST);
    const hook = await integrate(t, {
      name: "prod alertmanager",
      tool: "alertmanager",
      rules: [{ match: { service: "rentals", city: ["milan", "rome"] }, components: ["end-rental-{city}"] }],
    });
    // Fires and resolves ten times, faster than the quiet period: one incident, two updates at most.
    for (let i = 0; i < 10; i++) {
      const startsAt = new Date(Date.UTC(2026, 11, 6, 20, i)).toISOString();
      await deliver(t, hook, am("milan", "firing", startsAt));
      await deliver(t, hook, am("milan", "resolved", startsAt));
    }
    const open = await incidents(t);
    expect(open).toHaveLength(1);
    expect((await incident(t, open[0].id)).updates).toHaveLength(1);
    // Once flapping, a recovery must hold the flap window: still open after the quiet period.
    await new Promise((r) => setTimeout(r, 2_500));
    expect((await incident(t, open[0].id)).status).not.toBe("resolved");
    expect(await incidents(t)).toHaveLength(1);
  }, 60_000);

  it("Grafana, Datadog, PagerDuty (signed) and Opsgenie open and resolve the right incident", async () => {
    const t = await setUp(backend);
    const cases = [
      {
        tool: "grafana",
        rules: [{ match: { service: "charging" }, components: ["charging-{city}"] }],
        firing: fixture("grafana"),
        resolved: (() => {
          const b = fixture("grafana");
          b.status = b.alerts[0].status = "resolved";
          b.alerts[0].endsAt = "2026-12-06T20:15:00Z";
          return b;
        })(),
        component: "charging-rome",
      },
      {
        tool: "datadog",
        rules: [
          { match: { service: "rentals" }, components: ["end-rental-{city}"], status: "partial_outage" },
        ],
        firing: fixture("datadog"),
        resolved: { ...fixture("datadog"), alert_transition: "Recovered", event_id: "7269478829853312999" },
        component: "end-rental-milan",
        status: "partial_outage",
      },
      {
        tool: "pagerduty",
        signingSecret: "whsec-pd-1234567890",
        rules: [{ match: { service: "Payments API" }, components: ["payments"] }],
        firing: fixture("pagerduty"),
        resolved: (() => {
          const b = fixture("pagerduty");
          b.event.id = "01DEN4J8SKZ8X1QW1ZN6V9Z8Y7";
          b.event.event_type = "incident.resolved";
          b.event.data.status = "resolved";
          return b;
        })(),
        component: "payments",
      },
      {
        tool: "opsgenie",
        rules: [{ match: { service: "charging" }, components: ["charging-{city}"] }],
        firing: fixture("opsgenie"),
        resolved: { ...fixture("opsgenie"), action: "Close" },
        component: "charging-rome",
      },
    ];
    for (const c of cases) {
      const hook = await integrate(t, {
        name: `${c.tool} alerts`,
        tool: c.tool,
        rules: c.rules,
        ...(c.signingSecret && { signingSecret: c.signingSecret }),
      });
      const send = async (body: unknown) => {
        if (!c.signingSecret) return deliver(t, hook, body);
        // PagerDuty proves itself by signing the exact bytes, not with our token.
        const text = JSON.stringify(body);
        const signature = `v1=${createHmac("sha256", c.signingSecret).update(text).digest("hex")}`;
        const forged = await deliver(t, { webhookUrl: hook.webhookUrl }, text, {
          "x-pagerduty-signature": `v1=${"0".repeat(64)}`,
        });
        expect(forged.status).toBe(401);
        return deliver(t, { webhookUrl: hook.webhookUrl }, text, {
          "x-pagerduty-signature": `v1=abc, ${signature}`,
        });
      };
      const fired = await send(c.firing);
      expect(fired, c.tool).toMatchObject({ status: 202, json: { state: "down" } });
      const open = (await incidents(t)).filter((i) => i.status !== "resolved");
      expect(open, c.tool).toHaveLength(1);
      const inc = await incident(t, open[0].id);
      expect(inc.updates[0].created_by).toBe(`integration:${hook.id}`);
      expect(JSON.stringify(inc.components)).toContain(c.component);
      if (c.status) expect(JSON.stringify(inc.components)).toContain(c.status);
      expect((await send(c.firing)).json, c.tool).toMatchObject({ duplicates: 1 });
      await send(c.resolved);
      await until(
        `${c.tool}: resolved`,
        async () => (await incident(t, inc.id)).status === "resolved",
        10_000,
      );
    }
    expect(await incidents(t)).toHaveLength(4);
  }, 90_000);

  it("status_only sets the components' status and sets it back; alert_team tells the team; paused only listens", async () => {
    const t = await setUp(backend);
    const status = await integrate(t, {
      name: "status from grafana",
      tool: "grafana",
      onFailure: "status_only",
      rules: [{ match: { service: "charging" }, components: ["charging-{city}"], status: "partial_outage" }],
    });
    const firing = fixture("grafana");
    await deliver(t, status, firing);
    expect((await t.call("GET", "/api/v1/components/charging-rome")).json.status).toBe("partial_outage");
    const resolved = fixture("grafana");
    resolved.status = resolved.alerts[0].status = "resolved";
    await deliver(t, status, resolved);
    await until(
      "operational again",
      async () => (await t.call("GET", "/api/v1/components/charging-rome")).json.status === "operational",
      10_000,
    );
    expect(await incidents(t)).toHaveLength(0);

    const team = await integrate(t, { name: "payments on call", tool: "pagerduty", onFailure: "alert_team" });
    await deliver(t, team, fixture("pagerduty"));
    const alerts = await t.database.query<{ event: string; channel: string; payload: any }>(
      "select event, channel, payload from outbox_messages where workspace_id = $1",
      [t.workspaceId],
    );
    expect(alerts).toEqual([
      expect.objectContaining({
        event: "integration.down",
        channel: "team",
        payload: expect.objectContaining({ integration_id: team.id }),
      }),
    ]);
    expect(alerts[0]!.payload.title).toBe(
      'payments on call is down: 1 alert(s) firing: "Payments API returns 502"',
    );

    const paused = await integrate(t, { name: "muted", tool: "opsgenie", paused: true });
    expect((await deliver(t, paused, fixture("opsgenie"))).json).toMatchObject({
      received: 1,
      state: "paused",
    });
    expect(await incidents(t)).toHaveLength(0);
  }, 60_000);

  it("an integration with a protocol starts it on the first alert and resolves its incident", async () => {
    const t = await setUp(backend);
    expect(
      (
        await t.call("PUT", "/api/v1/protocols/payments-down", {
          title: "Payments are failing",
          body: "Card payments fail right now; your rentals are not affected.",
          components: [{ id: "payments", status: "major_outage" }],
        })
      ).status,
    ).toBe(201);
    const hook = await integrate(t, {
      name: "payments on call",
      tool: "pagerduty",
      protocol: "payments-down",
      rules: [{ match: { service: "Payments API" }, components: ["payments"] }],
    });
    await deliver(t, hook, fixture("pagerduty"));
    const open = await incidents(t);
    expect(open).toHaveLength(1);
    expect(open[0].title).toBe("Payments are failing");
    expect((await integration(t, hook.id)).incidentId).toBe(open[0].id);
    const resolved = fixture("pagerduty");
    resolved.event.id = "01DEN4J8SKZ8X1QW1ZN6V9Z8Y7";
    resolved.event.event_type = "incident.resolved";
    await deliver(t, hook, resolved);
    await until("resolved", async () => (await incident(t, open[0].id)).status === "resolved", 10_000);
  }, 60_000);
});
