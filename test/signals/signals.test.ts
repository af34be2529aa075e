/**
 * Usage signals end to end: events arrive through the ingest (NDJSON, idempotent by id, a bad
 * line refused whole); a signal monitor on end-rental failures in Milan, judged by the monitor
 * engine, opens the incident with its explanation for the team; the customers stuck in Milan are
 * told at the SMTP server, though they never subscribed and live nowhere in particular, and
 * nobody else is. On PGlite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MonitorEngine, startMonitors } from "../../src/monitors/engine.ts";
import {
  expectCustomerWords,
  importCsv,
  ok,
  onePerRecipient,
  startWorld,
  type World,
} from "../messages/world.ts";
import { BACKENDS } from "../support/backends.ts";
import { until } from "../support/until.ts";

const ndjson = (events: object[]) => events.map((e) => JSON.stringify(e)).join("\n");

async function ingest(w: World, body: string) {
  const res = await w.t.app.inject({
    method: "POST",
    url: "/api/v1/usage-events",
    headers: { authorization: `Bearer ${w.t.token}`, "content-type": "application/x-ndjson" },
    payload: body,
  });
  return { status: res.statusCode, json: res.json() };
}

describe.each(BACKENDS)("usage signals on %s", (backend) => {
  let w: World;
  let engine: MonitorEngine | undefined;
  const now = Date.now();
  beforeAll(async () => {
    w = await startWorld(backend);
    const { t } = w;
    await ok(t, "POST", "/api/v1/components", { id: "rentals", name: "Rentals" });
    await ok(t, "POST", "/api/v1/components", {
      id: "end-rental",
      name: "Ending a rental",
      parent_id: "rentals",
    });
    for (const [id, name] of [
      ["end-rental-milan", "Milan"],
      ["end-rental-rome", "Rome"],
    ])
      await ok(t, "POST", "/api/v1/components", { id, name, parent_id: "end-rental" });
    await ok(t, "PUT", "/api/v1/notification-settings", {
      notify_affected_customers: true,
      public_url: "https://status.fleet.test",
    });
    await importCsv(
      t,
      "customers",
      [
        "id,name,home_region,locale,email",
        "S1,Chiara Ferri,,it,chiara@example.it",
        "S2,Tom Baker,,en,tom@example.com",
        "S3,Luca Neri,,it,luca@example.it",
        "R1,Sara Russo,,it,sara@example.it",
        "N1,Nina Weiss,,de,nina@example.de",
        "L1,Marco Bianchi,,it,marco@example.it",
      ].join("\n"),
    );
  }, 90_000);
  afterAll(async () => {
    await engine?.stop();
    await w?.close();
  });

  it("takes NDJSON batches once by id and refuses a bad line whole, naming it", async () => {
    // Five weeks of rentals ending in both cities, every 20 minutes, and one stray failure a week.
    const history: object[] = [];
    for (let at = now - 35 * 86_400_000; at < now - 3_600_000; at += 20 * 60_000)
      for (const city of ["milan", "rome"])
        history.push({
          id: `end-${city}-${at}`,
          type: "session_ended",
          at: new Date(at).toISOString(),
          customerId: "N1",
          sessionId: `r-${city}-${at}`,
          componentId: `end-rental-${city}`,
          region: city,
        });
    const first = await ingest(w, ndjson(history));
    expect(first).toMatchObject({ status: 200, json: { received: history.length, stored: history.length } });
    const again = await ingest(w, ndjson(history.slice(0, 100)));
    expect(again.json).toEqual({ received: 100, stored: 0, duplicates: 100 });

    const bad = await ingest(
      w,
      [
        JSON.stringify({
          id: "x1",
          type: "session_failed",
          at: new Date(now).toISOString(),
          customerId: "S1",
        }),
        JSON.stringify({ id: "x2", type: "session_exploded", at: "yesterday", customerId: "S1" }),
      ].join("\n"),
    );
    expect(bad.status).toBe(400);
    expect(bad.json.detail).toContain("line 2: type");
    expect(bad.json.detail).toContain("line 2: at");
    expect(bad.json.errors ?? bad.json.fields ?? bad.json.invalid_params).toBeTruthy();
    // Nothing of the refused batch was written: x1 is new when sent again alone.
    const x1 = await ingest(
      w,
      JSON.stringify({
        id: "x1",
        type: "session_started",
        at: new Date(now - 7_200_000).toISOString(),
        customerId: "S1",
      }),
    );
    expect(x1.json).toMatchObject({ stored: 1 });
    expect((await ingest(w, "{not json")).status).toBe(400);
  }, 120_000);

  it("a spike of end-rental failures in Milan opens the incident; the stuck customers are told, nobody else", async () => {
    const monitor = await ok(w.t, "POST", "/api/v1/monitors", {
      id: "milan-end-failures",
      name: "end-rental failures, milan (signal)",
      kind: "signal",
      componentIds: ["end-rental-milan"],
      intervalSeconds: 1,
      confirm: { consecutive: 1 },
      timeoutMs: 500,
      assertions: { signal: { event: "session_failed", direction: "spike" } },
    });
    expect(monitor).toMatchObject({ kind: "signal", state: "pending" });
    engine = await startMonitors(w.t.database, { flushMs: 100, refreshMs: 300, location: "local" });
    await until(
      "judged well",
      async () => (await w.t.call("GET", "/api/v1/monitors/milan-end-failures")).json.state === "up",
      15_000,
    );

    // Three customers cannot end their rentals in Milan; one in Rome fails once and is fine.
    const failed = (id: string, customerId: string, city: string, minutesAgo: number) => ({
      id,
      type: "session_failed",
      at: new Date(Date.now() - minutesAgo * 60_000).toISOString(),
      customerId,
      sessionId: `s-${customerId}`,
      componentId: `end-rental-${city}`,
      region: city,
    });
    await ingest(
      w,
      ndjson([
        failed("f1", "S1", "milan", 8),
        failed("f2", "S1", "milan", 5),
        failed("f3", "S2", "milan", 4),
        failed("f4", "S3", "milan", 3),
        failed("f5", "R1", "rome", 4),
      ]),
    );
    await until(
      "down",
      async () => (await w.t.call("GET", "/api/v1/monitors/milan-end-failures")).json.state === "down",
      15_000,
    );
    const incidents = (await w.t.call("GET", "/api/v1/incidents")).json.incidents as any[];
    expect(incidents).toHaveLength(1);
    const incident = (await w.t.call("GET", `/api/v1/incidents/${incidents[0].id}`)).json;
    // For the team: what was expected and seen, in which window, and how many are stuck.
    expect(incident.updates[0].team_note).toMatch(
      /session_failed customers in 15 min: observed 3, expected 0(\.\d+)? \(spike, [\d.]+ % sure\); 3 customers stuck: S1, S2, S3/,
    );
    expect(incident.title).toBe("Problems with Rentals › Ending a rental › Milan");
    // The console's chart: observed against expected over time, judged as the checks were.
    const series = (await w.t.call("GET", "/api/v1/monitors/milan-end-failures/signal?points=12")).json;
    expect(series).toMatchObject({ windowMinutes: 15, direction: "spike", measure: "customers" });
    expect(series.items).toHaveLength(12);
    expect(series.items.at(-1)).toMatchObject({ observed: 3, verdict: "failing" });
    expect(series.items[0]).toMatchObject({ observed: 0, verdict: "ok" });

    const got = onePerRecipient(await w.settle());
    // The public post goes out as for any incident; of the customers, the stuck ones only.
    expect([...got.keys()].sort()).toEqual([
      "email:chiara@example.it",
      "email:luca@example.it",
      "email:tom@example.com",
      "mastodon:public",
    ]);
    const chiara = got.get("email:chiara@example.it")!;
    expect(chiara.lang).toBe("it");
    expect(chiara.subject).toContain("Problemi con Rentals › Ending a rental › Milan");
    for (const m of got.values())
      expectCustomerWords(m, ["milan-end-failures", "session_failed", "S1", "signal"]);

    // Marco gets stuck while the incident is open: he is told once, in Italian; Chiara, told
    // already, is not told again, and the same events sent twice tell nobody twice.
    const late = [failed("f6", "L1", "milan", 0), failed("f7", "S1", "milan", 0)];
    const mark = w.mark();
    await ingest(w, ndjson(late));
    await ingest(w, ndjson(late));
    await w.settle();
    const more = onePerRecipient(w.since(mark));
    expect([...more.keys()]).toEqual(["email:marco@example.it"]);
    const marco = more.get("email:marco@example.it")!;
    expect(marco.lang).toBe("it");
    expect(marco.subject).toBe(chiara.subject);
    expectCustomerWords(marco, ["milan-end-failures", "session_failed", "L1", "signal"]);
  }, 120_000);

  it("the imported sessions serve too: rentals that stop ending in Rome are a drop", async () => {
    // Three weeks of rentals in Rome ending every two minutes, none in the last hour.
    const rows = ["id,customer_id,kind,component_id,region,started_at,ended_at,charge,currency"];
    for (let at = now - 21 * 86_400_000; at < now - 3_600_000; at += 2 * 60_000)
      rows.push(
        `r${at},N1,rental,end-rental-rome,rome,${new Date(at - 600_000).toISOString()},${new Date(at).toISOString()},100,EUR`,
      );
    await importCsv(w.t, "sessions", rows.join("\n"));
    const refused = await w.t.call("POST", "/api/v1/monitors", {
      name: "failed attempts from sessions",
      kind: "signal",
      assertions: { signal: { event: "session_failed", direction: "spike", source: "sessions" } },
    });
    expect(refused.status).toBe(400);
    expect(refused.json.detail).toContain("assertions.signal.event");
    await ok(w.t, "POST", "/api/v1/monitors", {
      id: "rome-ended",
      name: "rentals ended in Rome (sessions)",
      kind: "signal",
      componentIds: ["end-rental-rome"],
      intervalSeconds: 1,
      timeoutMs: 500,
      confirm: { consecutive: 1 },
      onFailure: "alert_team",
      assertions: {
        signal: {
          event: "session_ended",
          direction: "drop",
          source: "sessions",
          windowMinutes: 30,
          confidence: 0.999,
        },
      },
    });
    await until(
      "down",
      async () => (await w.t.call("GET", "/api/v1/monitors/rome-ended")).json.state === "down",
      15_000,
    );
    const [alert] = await w.t.database.query<{ payload: any }>(
      "select payload from outbox_messages where workspace_id = $1 and event = 'monitor.down'",
      [w.t.workspaceId],
    );
    expect(alert!.payload.title).toMatch(
      /rentals ended in Rome \(sessions\) is down: session_ended events in 30 min: observed 0, expected 15/,
    );
  }, 120_000);
});
