/**
 * Monitors against real local servers that fail on cue: a failure is confirmed after the rule
 * and opens the incident with the right components and text, a blip does not, recovery resolves
 * it after the quiet period; TCP sets a component's status, DNS alerts the team; a heartbeat that
 * stops arriving opens an incident after its grace. On PGlite and PostgreSQL.
 */
import { afterEach, describe, expect, it } from "vitest";
import { BACKENDS } from "../support/backends.ts";
import { until } from "../support/until.ts";
import { flakyDns, flakyHttp, flakyTcp, type MonitorApp, startMonitorApp } from "./support.ts";

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function setUp(backend: (typeof BACKENDS)[number]) {
  const t = await startMonitorApp(backend);
  cleanup.push(t.close);
  for (const [id, name] of [
    ["api", "Rental API"],
    ["gateway", "Payment gateway"],
    ["dns", "DNS"],
  ])
    expect((await t.call("POST", "/api/v1/components", { id, name })).status).toBe(201);
  return t;
}

const monitor = async (t: MonitorApp, id: string) => (await t.call("GET", `/api/v1/monitors/${id}`)).json;
const openIncidents = async (t: MonitorApp) =>
  (await t.call("GET", "/api/v1/incidents?state=open")).json.incidents as any[];

describe.each(BACKENDS)("monitors on %s", (backend) => {
  it("HTTP: a blip opens nothing; 3 failures in a row open the incident; recovery resolves it", async () => {
    const t = await setUp(backend);
    const target = await flakyHttp();
    cleanup.push(target.close);
    const created = await t.call("POST", "/api/v1/monitors", {
      id: "api-health",
      name: "rental-api health probe",
      kind: "http",
      target: target.url,
      componentIds: ["api"],
      intervalSeconds: 1,
      timeoutMs: 500,
      confirm: { consecutive: 3 },
      assertions: { status: [200], jsonPath: { path: "$.status", equals: "ok" }, maxLatencyMs: 2_000 },
      onFailure: "open_incident",
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ state: "pending", confirm: { consecutive: 3 }, minLocations: 1 });
    await until("the monitor is up", async () => (await monitor(t, "api-health")).state === "up", 10_000);

    // One failed check among passing ones: nothing happens.
    target.state.failNext = 1;
    await until("the blip was seen", async () => {
      const r = await t.call("GET", "/api/v1/monitors/api-health/results");
      return r.json.items.some((i: any) => !i.ok);
    });
    await new Promise((r) => setTimeout(r, 2_500));
    expect((await monitor(t, "api-health")).state).toBe("up");
    expect(await openIncidents(t)).toHaveLength(0);

    target.state.failing = true;
    const failedAt = Date.now();
    await until("the incident opens", async () => (await openIncidents(t)).length === 1, 15_000);
    // Three checks one second apart: not before the third failure.
    expect(Date.now() - failedAt).toBeGreaterThanOrEqual(2_000);
    const [incident] = await openIncidents(t);
    expect(incident.components).toEqual([{ id: "api", status: "major_outage" }]);
    // The public reads customer words about the component; the monitor and its findings are the team's.
    expect(incident.title).toBe("Problems with Rental API");
    expect(incident.title_translations.it).toBe("Problemi con Rental API");
    const { team_note, ...publicPart } = incident.updates[0];
    expect(JSON.stringify({ ...incident, updates: [publicPart] })).not.toMatch(/probe/);
    expect(incident.updates[0].body).not.toMatch(/probe|monitor/);
    expect(incident.updates[0].team_note).toMatch(/rental-api health probe.*status 503 \(from local\)/);
    expect(incident.updates[0].created_by).toBe("monitor:api-health");
    const down = await monitor(t, "api-health");
    expect(down).toMatchObject({ state: "down", incidentId: incident.id });
    // The public page follows.
    const summary = await t.app.inject({ url: "/api/v2/summary.json" });
    expect(summary.json().components.find((c: any) => c.id === "api").status).toBe("major_outage");

    target.state.failing = false;
    await until("the incident resolves", async () => (await openIncidents(t)).length === 0, 15_000);
    const resolved = (await t.call("GET", `/api/v1/incidents/${incident.id}`)).json;
    const last = resolved.updates.at(-1);
    expect(last).toMatchObject({ status: "resolved", created_by: "monitor:api-health" });
    expect(last.body).toMatch(/working normally again/);
    expect(last.body_translations.it).toMatch(/funziona di nuovo normalmente/);
    expect(last.body).not.toMatch(/probe|monitor/);
    expect(last.team_note).toMatch(/rental-api health probe.*resolved automatically/);
    expect(await monitor(t, "api-health")).toMatchObject({ state: "up", incidentId: null });
    // Stored results feed the rollups.
    const hourly = await t.call("GET", "/api/v1/monitors/api-health/results?resolution=hour");
    // A run that crosses the top of an hour has two buckets; together they hold every check.
    const buckets = hourly.json.items as any[];
    expect(buckets.length).toBeGreaterThanOrEqual(1);
    expect(buckets.length).toBeLessThanOrEqual(2);
    const failures = buckets.reduce((n, b) => n + b.failures, 0);
    expect(failures).toBeGreaterThanOrEqual(4);
    expect(buckets.reduce((n, b) => n + b.checks, 0)).toBeGreaterThan(failures);
    expect(buckets.some((b) => typeof b.latencyP95Ms === "number")).toBe(true);
  }, 60_000);

  it("M of K: scattered failures confirm; TCP down sets the component's status, back up restores it", async () => {
    const t = await setUp(backend);
    const tcp = await flakyTcp();
    cleanup.push(tcp.close);
    const created = await t.call("POST", "/api/v1/monitors", {
      id: "gateway-tcp",
      name: "Payment gateway",
      kind: "tcp",
      target: tcp.target,
      componentIds: ["gateway"],
      intervalSeconds: 1,
      timeoutMs: 500,
      confirm: { of: { m: 2, k: 4 } },
      assertions: { componentStatus: "partial_outage" },
      onFailure: "status_only",
    });
    expect(created.status).toBe(201);
    await until("up", async () => (await monitor(t, "gateway-tcp")).state === "up", 10_000);
    await tcp.stop();
    await until("down", async () => (await monitor(t, "gateway-tcp")).state === "down", 10_000);
    const gateway = (await t.call("GET", "/api/v1/components/gateway")).json;
    expect(gateway.status).toBe("partial_outage");
    expect(await openIncidents(t)).toHaveLength(0); // status only, no incident
    await tcp.start();
    await until("up again", async () => (await monitor(t, "gateway-tcp")).state === "up", 15_000);
    expect((await t.call("GET", "/api/v1/components/gateway")).json.status).toBe("operational");
    // Each automatic step is in the audit log, done by the monitor.
    const audit = (await t.call("GET", "/api/v1/audit?limit=100")).json.items as any[];
    expect(audit.filter((e) => e.actor.kind === "monitor").map((e) => e.action)).toEqual(
      expect.arrayContaining(["monitor.down", "monitor.recovered"]),
    );
    // What the monitor measured counts in the page's uptime, though no incident was opened.
    await until("the page counts the outage", async () => {
      const page = (await t.app.inject({ url: "/" })).body;
      return /Payment gateway: 99\.\d+% uptime/.test(page) && page.includes("Rental API: 100% uptime");
    });
  }, 60_000);

  it("DNS against a local server: SERVFAIL alerts the team only", async () => {
    const t = await setUp(backend);
    const dns = await flakyDns("10.0.0.7");
    cleanup.push(dns.close);
    const created = await t.call("POST", "/api/v1/monitors", {
      id: "dns-a",
      name: "Rental API DNS",
      kind: "dns",
      target: "api.fleet.test",
      componentIds: ["dns"],
      intervalSeconds: 1,
      timeoutMs: 500,
      confirm: { consecutive: 2 },
      assertions: { server: dns.server, recordType: "A", expect: "10.0.0.7" },
      onFailure: "alert_team",
    });
    expect(created.status).toBe(201);
    await until("up", async () => (await monitor(t, "dns-a")).state === "up", 10_000);
    dns.state.failing = true;
    await until("down", async () => (await monitor(t, "dns-a")).state === "down", 10_000);
    const events = await t.database.query<{ event: string; channel: string; payload: any }>(
      "select event, channel, payload from outbox_messages where workspace_id = $1",
      [t.workspaceId],
    );
    expect(events).toEqual([
      expect.objectContaining({
        event: "monitor.down",
        channel: "team",
        payload: expect.objectContaining({ monitor_id: "dns-a" }),
      }),
    ]);
    expect(events[0]!.payload.title).toMatch(/Rental API DNS is down: .*SERVFAIL|Rental API DNS is down/);
    expect(await openIncidents(t)).toHaveLength(0);
    expect(dns.state.queries).toBeGreaterThan(2);
  }, 60_000);

  it("heartbeat: arriving keeps it up; silence past the grace opens an incident; a beat resolves it", async () => {
    const t = await setUp(backend);
    const created = await t.call("POST", "/api/v1/monitors", {
      id: "nightly-billing",
      name: "Billing job",
      kind: "heartbeat",
      componentIds: ["api"],
      intervalSeconds: 1,
      confirm: { consecutive: 1 },
      assertions: { graceSeconds: 1 },
    });
    expect(created.status).toBe(201);
    const hook = created.json.heartbeatUrl as string;
    expect(hook).toMatch(/^\/hooks\/heartbeat\/hb_/);
    let lastBeat = 0;
    for (let i = 0; i < 4; i++) {
      lastBeat = Date.now();
      const beat = await fetch(`${t.url}${hook}`, { method: i % 2 ? "POST" : "GET" });
      expect(beat.status).toBe(200);
      await new Promise((r) => setTimeout(r, 500));
    }
    expect((await monitor(t, "nightly-billing")).state).toBe("up");
    expect(await openIncidents(t)).toHaveLength(0);
    await until("the silence opens an incident", async () => (await openIncidents(t)).length === 1, 15_000);
    // interval (1 s) + grace (1 s) must pass first
    expect(Date.now() - lastBeat).toBeGreaterThanOrEqual(2_000);
    const [incident] = await openIncidents(t);
    expect(incident.updates[0].team_note).toMatch(/no heartbeat for \d+ s/);
    expect(incident.updates[0].created_by).toBe("monitor:nightly-billing");
    // The job runs again.
    const again = setInterval(() => void fetch(`${t.url}${hook}`, { method: "POST" }), 300);
    try {
      await until("resolved", async () => (await openIncidents(t)).length === 0, 15_000);
    } finally {
      clearInterval(again);
    }
    expect((await fetch(`${t.url}/hooks/heartbeat/hb_nope`)).status).toBe(404);
  }, 60_000);
});
