/**
 * /metrics after real work: an incident's message through the notifier to a real SMTP server,
 * a monitor's checks against a local HTTP server, a compensation preview and apply, and the
 * status page's snapshot rebuilds; the queue's depth and age read from the database; and the
 * whole text clean by `promtool check metrics`. On PGlite and PostgreSQL. And `amends worker`'s
 * own /metrics, since a worker has no other HTTP server.
 *
 * The counters belong to the process (several servers in one process share them), so each
 * check is of what changed between two scrapes.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MonitorEngine, startMonitors } from "../../src/monitors/engine.ts";
import { type Notifier, startNotifier } from "../../src/notifications/notifier.ts";
import { QUEUES } from "../../src/notifications/queue.ts";
import { importCsv, startTestApp, type TestApp } from "../support/app.ts";
import { BACKENDS, freshPostgresUrl } from "../support/backends.ts";
import { type ChannelFakes, startChannelFakes } from "../support/channels.ts";
import { until } from "../support/until.ts";

const PROMTOOL = "/usr/bin/promtool";

/** Samples of the exposition text, keyed as they are written: `name{label="value",…}`. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const cut = line.lastIndexOf(" ");
    out.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return out;
}

/** `promtool check metrics` on the text: its exit code and everything it printed. */
function promtool(text: string): Promise<{ code: number | null; output: string }> {
  if (!existsSync(PROMTOOL))
    throw new Error(`${PROMTOOL} is missing: install Prometheus's promtool (CI does, in .ci/run)`);
  return new Promise((resolve, reject) => {
    const child = spawn(PROMTOOL, ["check", "metrics"], { stdio: ["pipe", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
    child.stdin.end(text);
  });
}

describe.each(BACKENDS)("metrics on %s", (backend) => {
  let t: TestApp;
  let fakes: ChannelFakes;
  let notifier: Notifier | undefined;
  let monitors: MonitorEngine | undefined;
  let target: http.Server | undefined;

  const scrape = async () => {
    const res = await t.app.inject("/metrics");
    expect(res.statusCode).toBe(200);
    return res.body;
  };
  /** How much each sample moved during `work`. */
  const during = async (work: () => Promise<void>) => {
    const before = samples(await scrape());
    await work();
    const text = await scrape();
    const after = samples(text);
    return {
      text,
      delta: (key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0),
      value: (key: string) => after.get(key),
    };
  };

  beforeAll(async () => {
    fakes = await startChannelFakes();
    t = await startTestApp(backend, { channels: fakes.channels });
    for (const c of [
      { id: "rental-backend", name: "Rental backend" },
      { id: "partner-fleet", name: "Partner fleet" },
    ])
      expect((await t.call("POST", "/api/v1/components", c)).status).toBe(201);
    const settings = await t.call("PUT", "/api/v1/notification-settings", {
      public_url: "http://status.fleet.test",
      team: [{ channel: "email", address: "ops@fleet.test", locale: "en" }],
    });
    expect(settings.status, JSON.stringify(settings.json)).toBe(200);
  }, 60_000);
  let databaseClosed = false;
  afterAll(async () => {
    await monitors?.stop();
    await notifier?.stop();
    // Its LISTEN cannot be taken down with the database gone.
    if (databaseClosed) await t?.app.close().catch(() => {});
    else await t?.close();
    await fakes?.stop();
    await new Promise((r) => (target ? target.close(r) : r(undefined)));
  });

  it("reads the outbox's depth and age from the database, and counts a delivery and its first-message latency", async () => {
    // No notifier yet: the incident's event waits in the outbox; pg-boss is not set up on this
    // database, so the send queue's gauges are left out and the rest still answers.
    const opened = await t.call("POST", "/api/v1/incidents", {
      title: "Rentals cannot be ended",
      body: "We are investigating.",
      components: [{ id: "rental-backend", status: "major_outage" }],
    });
    expect(opened.status, JSON.stringify(opened.json)).toBe(201);
    await new Promise((r) => setTimeout(r, 50));
    const waiting = samples(await scrape());
    expect(waiting.get("amends_notification_waiting_events")).toBe(1);
    expect(waiting.get('amends_notification_oldest_waiting_seconds{stage="outbox"}')).toBeGreaterThan(0);
    expect(waiting.has("amends_notification_waiting_messages")).toBe(false);
    expect(waiting.get("amends_open_incidents")).toBe(1);

    const m = await during(async () => {
      notifier = await startNotifier(t.database, { channels: fakes.channels });
      await notifier.dispatch();
      await until("the team's e-mail", () =>
        fakes.smtp.received.some((r) => r.to.includes("ops@fleet.test")),
      );
      await until("the outbox to empty", async () => {
        const s = samples(await scrape());
        return s.get("amends_notification_waiting_events") === 0;
      });
    });
    expect(
      m.delta('amends_notification_deliveries_total{channel="email",provider="smtp",outcome="sent"}'),
    ).toBe(1);
    expect(m.delta('amends_notification_first_message_seconds_count{event="incident"}')).toBe(1);
    // Created a moment ago: well inside the 30 s bucket.
    expect(m.delta('amends_notification_first_message_seconds_bucket{le="30",event="incident"}')).toBe(1);
    expect(m.value("amends_notification_waiting_events")).toBe(0);
    expect(m.value("amends_notification_waiting_messages")).toBe(0);
    expect(m.value('amends_notification_oldest_waiting_seconds{stage="outbox"}')).toBe(0);
    expect(m.value('amends_notification_oldest_waiting_seconds{stage="send"}')).toBe(0);

    // A send job of three messages that no worker may take yet (as a retry's backoff holds one back).
    const held = await notifier!.boss.send(
      QUEUES.send,
      {
        workspaceId: t.workspaceId,
        items: [
          ["e1", "r1"],
          ["e1", "r2"],
          ["e1", "r3"],
        ],
      },
      { startAfter: 3_600 },
    );
    await new Promise((r) => setTimeout(r, 300));
    const queued = samples(await scrape());
    expect(queued.get("amends_notification_waiting_messages")).toBe(3);
    expect(queued.get('amends_notification_oldest_waiting_seconds{stage="send"}')).toBeGreaterThanOrEqual(
      0.25,
    );
    await notifier!.boss.deleteJob(QUEUES.send, held!);
    expect(samples(await scrape()).get("amends_notification_waiting_messages")).toBe(0);
  }, 60_000);

  it("counts monitor checks by kind and outcome, with their durations", async () => {
    process.env.AMENDS_MONITORS_ALLOW_PRIVATE = "1";
    let failing = false;
    target = http.createServer((_req, res) => {
      res.writeHead(failing ? 503 : 200).end("ok");
    });
    await new Promise<void>((r) => target!.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(target.address() as AddressInfo).port}/health`;
    const m = await during(async () => {
      const created = await t.call("POST", "/api/v1/monitors", {
        id: "api-health",
        name: "API health",
        kind: "http",
        target: url,
        intervalSeconds: 1,
        timeoutMs: 500,
        onFailure: "alert_team",
      });
      expect(created.status, JSON.stringify(created.json)).toBe(201);
      monitors = await startMonitors(t.database, { flushMs: 100, refreshMs: 300 });
      await until("a passing check", () => (monitors?.counts().checks ?? 0) >= 1, 10_000);
      failing = true;
      const checks = monitors.counts().checks;
      await until("a failing check", () => (monitors?.counts().failures ?? 0) >= 1, 10_000);
      expect(monitors.counts().checks).toBeGreaterThan(checks);
      await monitors.stop();
      monitors = undefined;
    });
    const ok = m.delta('amends_monitor_checks_total{kind="http",outcome="ok"}');
    const failed = m.delta('amends_monitor_checks_total{kind="http",outcome="failed"}');
    expect(ok).toBeGreaterThanOrEqual(1);
    expect(failed).toBeGreaterThanOrEqual(1);
    expect(m.delta('amends_monitor_check_duration_seconds_count{kind="http",outcome="ok"}')).toBe(ok);
    expect(m.delta('amends_monitor_check_duration_seconds_count{kind="http",outcome="failed"}')).toBe(failed);
    // A loopback server answers within half a second.
    expect(m.delta('amends_monitor_check_duration_seconds_bucket{le="0.5",kind="http",outcome="ok"}')).toBe(
      ok,
    );
  }, 30_000);

  it("times a compensation preview and apply and counts their lines", async () => {
    await importCsv(
      t,
      "customers",
      "id,home_region,currency,email\nC1,milan,EUR,c1@example.com\nC3,milan,EUR,c3@example.com\n",
    );
    await importCsv(
      t,
      "sessions",
      [
        "id,customer_id,kind,component_id,region,started_at,ended_at,charge,currency,refunded",
        "S1,C1,rental,rental-backend,milan,2017-12-19T01:40:00Z,2017-12-19T09:10:00Z,13050,EUR,5000",
        "S3,C3,rental,rental-backend,milan,2017-12-19T01:47:30Z,2017-12-19T02:12:30Z,725,EUR,0",
        "S4,C1,rental,rental-backend,milan,2017-12-19T15:45:00Z,2017-12-19T16:20:00Z,1015,EUR,0",
      ].join("\n"),
    );
    const incident = "INC-2017-12-19";
    expect(
      (
        await t.call("POST", "/api/v1/incidents", {
          id: incident,
          title: "Rentals cannot be ended",
          body: "Investigating",
          started_at: "2017-12-19T02:00:00Z",
          components: [{ id: "rental-backend", status: "major_outage" }],
        })
      ).status,
    ).toBe(201);
    await t.call("POST", `/api/v1/incidents/${incident}/resolve`, { resolved_at: "2017-12-19T16:00:00Z" });
    const yaml = readFileSync(
      new URL("../../examples/policies/car2go-2017-outage.yaml", import.meta.url),
      "utf8",
    );
    const m = await during(async () => {
      const policy = await t.call("POST", "/api/v1/policies", { yaml });
      expect([200, 201], JSON.stringify(policy.json)).toContain(policy.status);
      const run = await t.call("POST", `/api/v1/incidents/${incident}/compensation-runs`, {
        policy: policy.json.id,
      });
      expect(run.status, JSON.stringify(run.json)).toBe(201);
      expect(run.json.summary.lines).toBe(3);
      expect((await t.call("POST", `/api/v1/compensation-runs/${run.json.id}/approve`)).status).toBe(200);
      const applied = await t.call("POST", `/api/v1/compensation-runs/${run.json.id}/apply`);
      expect(applied.status, JSON.stringify(applied.json)).toBe(200);
      expect(applied.json.applied.entries).toBe(3);
    });
    expect(m.delta('amends_compensation_lines_total{stage="preview"}')).toBe(3);
    expect(m.delta('amends_compensation_lines_total{stage="apply"}')).toBe(3);
    expect(m.delta('amends_compensation_duration_seconds_count{stage="preview",outcome="ok"}')).toBe(1);
    expect(m.delta('amends_compensation_duration_seconds_count{stage="apply",outcome="ok"}')).toBe(1);
    expect(m.delta('amends_compensation_duration_seconds_sum{stage="apply",outcome="ok"}')).toBeGreaterThan(
      0,
    );
  }, 60_000);

  it("counts the status page's snapshot rebuilds", async () => {
    const m = await during(async () => {
      // A change drops the snapshot; the next request rebuilds it, the one after is served from it.
      expect((await t.call("PATCH", "/api/v1/components/partner-fleet", { name: "Partners" })).status).toBe(
        200,
      );
      expect((await t.app.inject("/")).statusCode).toBe(200);
      expect((await t.app.inject("/api/v2/summary.json")).statusCode).toBe(200);
    });
    expect(m.delta('amends_status_page_snapshot_rebuilds_total{snapshot="page",outcome="ok"}')).toBe(1);
    expect(m.delta('amends_status_page_snapshot_rebuilds_total{snapshot="pages",outcome="ok"}')).toBe(1);
    expect(m.delta('amends_status_page_snapshot_rebuild_duration_seconds_count{snapshot="page"}')).toBe(1);
  });

  it("is clean by promtool check metrics", async () => {
    const text = await scrape();
    for (const family of [
      "amends_http_requests_total",
      "amends_open_incidents",
      "amends_listen_connected",
      "amends_http_fast_lane_responses_total",
      "amends_notification_deliveries_total",
      "amends_notification_first_message_seconds",
      "amends_notification_waiting_events",
      "amends_notification_waiting_messages",
      "amends_notification_oldest_waiting_seconds",
      "amends_monitor_checks_total",
      "amends_monitor_check_duration_seconds",
      "amends_monitor_checks_skipped_total",
      "amends_compensation_duration_seconds",
      "amends_compensation_lines_total",
      "amends_status_page_snapshot_rebuilds_total",
      "amends_status_page_snapshot_rebuild_duration_seconds",
    ])
      expect(text, family).toContain(`# TYPE ${family} `);
    // No label carries an id, an address or a URL.
    expect(text).not.toMatch(/ops@fleet|INC-2017|api-health|127\.0\.0\.1|fleet\.test/);
    expect(await promtool(text)).toEqual({ code: 0, output: "" });
  });

  it("still answers with the database gone, leaving out what it cannot read", async () => {
    await notifier?.stop();
    notifier = undefined;
    await t.database.close();
    databaseClosed = true;
    const text = await scrape();
    const s = samples(text);
    for (const gone of [
      "amends_open_incidents",
      "amends_notification_waiting_events",
      "amends_notification_waiting_messages",
    ]) {
      expect(text, gone).toContain(`# TYPE ${gone} gauge`);
      expect(s.has(gone), gone).toBe(false);
    }
    expect([...s.keys()].some((k) => k.startsWith("amends_notification_oldest_waiting_seconds"))).toBe(false);
    expect(
      s.get('amends_notification_deliveries_total{channel="email",provider="smtp",outcome="sent"}'),
    ).toBeGreaterThan(0);
    expect(await promtool(text)).toEqual({ code: 0, output: "" });
  });
});

describe("a worker's metrics", () => {
  it("are served by `amends worker --metrics-port`, and nothing else is", async () => {
    const url = await freshPostgresUrl();
    const bin = fileURLToPath(new URL("../../bin/amends.js", import.meta.url));
    const child = spawn(process.execPath, [bin, "worker", "--metrics-port", "0"], {
      env: { ...process.env, DATABASE_URL: url, AMENDS_MONITORS: "off" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    try {
      await until("the worker to say where its metrics are", async () => /Metrics at /.test(output), 30_000);
      const address = output.match(/Metrics at (http:\/\/\S+)/)![1]!;
      const res = await fetch(address);
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).toContain("# TYPE amends_notification_deliveries_total counter");
      expect(text).toContain("# TYPE amends_monitor_checks_total counter");
      expect(await promtool(text)).toEqual({ code: 0, output: "" });
      expect((await fetch(address.replace("/metrics", "/"))).status).toBe(404);
    } finally {
      child.kill("SIGTERM");
      await new Promise((resolve) => child.once("exit", resolve));
    }
  });
});
