/**
 * The monitors API: bad input is a 4xx naming the field and writes nothing; pausing stops
 * checks; results fold into hourly and daily rollups and survive the 7-day compaction; and on
 * PostgreSQL two server processes check each monitor once per interval, not once each.
 */
import { afterEach, describe, expect, it } from "vitest";
import { startMonitors } from "../../src/monitors/engine.ts";
import { compactResults, recordResults } from "../../src/monitors/store.ts";
import { openDatabase } from "../../src/storage/database.ts";
import { startTestApp } from "../support/app.ts";
import { BACKENDS } from "../support/backends.ts";
import { FAST, flakyHttp } from "./support.ts";

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

describe.each(BACKENDS)("monitors API on %s", (backend) => {
  it("refuses bad input by field, without writing", async () => {
    const t = await startTestApp(backend);
    cleanup.push(t.close);
    await t.call("POST", "/api/v1/components", { id: "api", name: "API" });
    const base = { name: "API", kind: "http", target: "http://127.0.0.1:9/health" };
    const cases: [Record<string, unknown>, number, string][] = [
      [{ ...base, target: "ftp://x" }, 400, "target"],
      [{ ...base, kind: "tcp", target: "no-port" }, 400, "target"],
      [{ ...base, kind: "smtp" }, 400, "kind"],
      [{ ...base, componentIds: ["nowhere"] }, 400, "componentIds.0"],
      [{ ...base, confirm: { of: { m: 5, k: 3 } } }, 400, "confirm"],
      [{ ...base, intervalSeconds: 0 }, 400, "intervalSeconds"],
      [{ ...base, protocol: "none-such" }, 400, "protocol"],
      [{ ...base, assertions: { jsonPath: { path: "status", equals: 1 } } }, 400, "assertions.jsonPath.path"],
      [{ ...base, onFailure: "panic" }, 400, "onFailure"],
      [{ ...base, name: "" }, 400, "name"],
      [{ ...base, intervalSeconds: 10, timeoutMs: 5_000, retries: 1 }, 400, "timeoutMs"],
    ];
    for (const [body, status, field] of cases) {
      const res = await t.call("POST", "/api/v1/monitors", body);
      expect(res.status, JSON.stringify(res.json)).toBe(status);
      expect(res.json.errors?.map((e: { field: string }) => e.field).join(" ")).toContain(field);
    }
    expect((await t.call("GET", "/api/v1/monitors")).json.items).toEqual([]);
    const ok = await t.call("POST", "/api/v1/monitors", { ...base, id: "api-health", componentIds: ["api"] });
    expect(ok.status).toBe(201);
    expect(ok.json).toMatchObject({
      intervalSeconds: 60,
      timeoutMs: 10_000,
      retries: 0,
      confirm: { consecutive: 3 },
      onFailure: "open_incident",
      state: "pending",
      heartbeatUrl: null,
    });
    expect((await t.call("POST", "/api/v1/monitors", { ...base, id: "api-health" })).status).toBe(409);
    const paused = await t.call("PATCH", "/api/v1/monitors/api-health", {
      paused: true,
      intervalSeconds: 30,
    });
    expect(paused.json).toMatchObject({ state: "paused", intervalSeconds: 30 });
    expect((await t.call("PATCH", "/api/v1/monitors/api-health", { target: "nope" })).status).toBe(400);
    expect(
      (await t.call("PATCH", "/api/v1/monitors/api-health", { intervalSeconds: 5 })).json.errors[0].field,
    ).toBe("timeoutMs");
    expect((await t.call("PATCH", "/api/v1/monitors/api-health", { paused: false })).json.state).toBe(
      "pending",
    );
    // A token without monitors:write may read but not write.
    const reader = await t.call("POST", "/api/v1/tokens", { name: "ro", scopes: ["read"] });
    const asReader = await t.app.inject({
      method: "POST",
      url: "/api/v1/monitors",
      headers: { authorization: `Bearer ${reader.json.secret}` },
      payload: base,
    });
    expect(asReader.statusCode).toBe(403);
    // Probes may only report on their workspace's monitors.
    const probe = (await t.call("POST", "/api/v1/probes", { name: "p", location: "eu" })).json.token;
    const report = await t.app.inject({
      method: "POST",
      url: "/api/v1/probe/results",
      headers: { authorization: `Bearer ${probe}` },
      payload: { results: [{ monitorId: "someone-elses", at: new Date().toISOString(), ok: true }] },
    });
    expect(report.statusCode).toBe(400);
    expect(report.json().errors[0].field).toBe("results.0.monitorId");
    const future = await t.app.inject({
      method: "POST",
      url: "/api/v1/probe/results",
      headers: { authorization: `Bearer ${probe}` },
      payload: { results: [{ monitorId: "api-health", at: "2099-01-01T00:00:00Z", ok: true }] },
    });
    expect(future.statusCode).toBe(400);
    expect(future.json().errors[0].field).toBe("results.0.at");
    expect((await t.call("DELETE", "/api/v1/monitors/api-health")).status).toBe(204);
    expect((await t.call("GET", "/api/v1/monitors/api-health")).status).toBe(404);
  }, 60_000);

  it("rolls results up per hour and day, before and after the 7-day compaction", async () => {
    const t = await startTestApp(backend);
    cleanup.push(t.close);
    await t.call("POST", "/api/v1/monitors", {
      id: "m",
      name: "M",
      kind: "tcp",
      target: "127.0.0.1:9",
      paused: true,
    });
    const day = Date.parse("2026-11-01T00:00:00Z");
    const rows = Array.from({ length: 48 }, (_, i) => ({
      workspaceId: t.workspaceId,
      monitorId: "m",
      at: new Date(day + i * 1_800_000), // every 30 min for a day
      location: "local",
      ok: i !== 5,
      latencyMs: 10 + i,
    }));
    await recordResults(t.database, rows);
    const q = "from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z";
    const before = (await t.call("GET", `/api/v1/monitors/m/results?resolution=hour&${q}`)).json.items;
    expect(before).toHaveLength(24);
    expect(before[2]).toEqual({
      at: "2026-11-01T02:00:00.000Z",
      checks: 2,
      failures: 1,
      latencyP50Ms: 14,
      latencyP95Ms: 15,
    });
    const daily = async () =>
      (await t.call("GET", `/api/v1/monitors/m/results?resolution=day&${q}`)).json.items;
    expect(await daily()).toEqual([
      { at: "2026-11-01T00:00:00.000Z", checks: 48, failures: 1, latencyP50Ms: 33, latencyP95Ms: 55 },
    ]);
    expect((await t.call("GET", `/api/v1/monitors/m/results?resolution=day&${q}`)).json.uptimePercent).toBe(
      97.91,
    );
    // Ten days later the raw rows are folded away; the figures stay.
    expect(await compactResults(t.database, new Date(day + 10 * 86_400_000))).toBe(48);
    expect((await t.call("GET", `/api/v1/monitors/m/results?${q}`)).json.items).toEqual([]);
    expect(await daily()).toEqual([
      { at: "2026-11-01T00:00:00.000Z", checks: 48, failures: 1, latencyP50Ms: 33, latencyP95Ms: 55 },
    ]);
    expect(
      (await t.call("GET", `/api/v1/monitors/m/results?resolution=hour&${q}`)).json.items[2],
    ).toMatchObject({
      checks: 2,
      failures: 1,
    });
    expect(await compactResults(t.database, new Date(day + 10 * 86_400_000))).toBe(0);
  }, 60_000);
});

describe("several server processes on one PostgreSQL", () => {
  it("check each monitor once per interval per location, not once per process", async () => {
    const t = await startTestApp("postgres");
    cleanup.push(t.close);
    const target = await flakyHttp();
    cleanup.push(target.close);
    const url = (t.database as unknown as { pool: { options: { connectionString: string } } }).pool.options
      .connectionString;
    const other = await openDatabase({ url }, { migrate: false });
    cleanup.push(() => other.close());
    for (let i = 0; i < 5; i++)
      await t.call("POST", "/api/v1/monitors", {
        id: `m${i}`,
        name: `M${i}`,
        kind: "http",
        target: target.url,
        intervalSeconds: 1,
        timeoutMs: 500,
      });
    const engines = await Promise.all(
      [t.database, other].map((db) => startMonitors(db, { damping: FAST, flushMs: 100, location: "local" })),
    );
    cleanup.push(async () => {
      for (const e of engines) await e.stop();
    });
    await new Promise((r) => setTimeout(r, 4_200));
    for (const e of engines) await e.stop();
    const checks = engines.map((e) => e.counts().checks);
    // ~4 slots × 5 monitors, split between the two processes; without claims it would be twice that.
    const total = checks[0]! + checks[1]!;
    expect(total).toBeGreaterThanOrEqual(15);
    expect(total).toBeLessThanOrEqual(25);
    expect(target.state.hits).toBe(total);
    const [dupes] = await t.database.query<{ n: number }>(
      `select count(*)::int as n from (select monitor_id, slot from monitor_claims group by 1, 2 having count(*) > 1) d`,
    );
    expect(dupes!.n).toBe(0);
  }, 60_000);
});
