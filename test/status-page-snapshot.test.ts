import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { describe, expect, it, vi } from "vitest";
import { createComponent } from "../src/components/store.ts";
import { buildServer } from "../src/http/server.ts";
import { FORM_TIME_FIELD } from "../src/reports/form-token.ts";
import { announcePageChange, PageChanges } from "../src/status-page/changes.ts";
import { SnapshotCache } from "../src/status-page/snapshot.ts";
import type { Database } from "../src/storage/database.ts";
import { createToken } from "../src/tokens/store.ts";
import { createWorkspace } from "../src/workspaces/store.ts";
import { startTestApp } from "./support/app.ts";
import { freshDatabase } from "./support/backends.ts";
import { until } from "./support/until.ts";

/** The last day of the first uptime bar, today, drawn as a major outage. */
const TODAY_MAJOR_OUTAGE = /<li class="u-major_outage">(?:(?!<li ).)*<\/li><\/ol>/s;

describe("the public page's snapshot", () => {
  it("answers with ETags, 304s and compressed bodies, and shows a change on the next request", async () => {
    const t = await startTestApp("pglite");
    try {
      await t.call("POST", "/api/v1/components", { id: "app", name: "App" });
      const first = await t.app.inject({
        url: "/api/v2/summary.json",
        headers: { "accept-encoding": "br, gzip" },
      });
      expect(first.headers["content-encoding"]).toBe("br");
      expect(first.headers["cache-control"]).toMatch(/stale-while-revalidate/);
      const etag = first.headers.etag as string;
      expect(JSON.parse(brotliDecompressSync(first.rawPayload).toString()).components).toHaveLength(1);
      const gz = await t.app.inject({ url: "/", headers: { "accept-encoding": "gzip" } });
      expect(gunzipSync(gz.rawPayload).toString()).toContain("<!doctype html>");

      const again = await t.app.inject({ url: "/api/v2/summary.json", headers: { "if-none-match": etag } });
      expect(again.statusCode).toBe(304);
      expect(again.body).toBe("");

      await t.call("POST", "/api/v1/incidents", {
        title: "App down",
        body: "x",
        components: [{ id: "app", status: "major_outage" }],
      });
      const changed = await t.app.inject({ url: "/api/v2/summary.json", headers: { "if-none-match": etag } });
      expect(changed.statusCode).toBe(200);
      expect(changed.json().status.indicator).toBe("critical");
    } finally {
      await t.close();
    }
  });

  it("keeps the page's bytes and ETag while nothing it shows changes, and changes both on a write", async () => {
    let clock = Date.parse("2026-12-05T10:00:00Z");
    const t = await startTestApp("pglite", { now: () => new Date(clock) });
    // The form's render-time token is the one part that moves with every render (see form-token.ts).
    const page = async () => {
      // One request finds the snapshot old and starts its rebuild; the next one reads the new one.
      await t.app.inject("/");
      await new Promise((r) => setTimeout(r, 100));
      const res = await t.app.inject("/");
      return { etag: res.headers.etag, body: res.body.replace(FORM_TIME_FIELD, "") };
    };
    try {
      await t.call("POST", "/api/v1/components", { id: "app", name: "App" });
      const opened = await t.call("POST", "/api/v1/incidents", {
        title: "App down",
        body: "x",
        components: [{ id: "app", status: "major_outage" }],
      });
      // Today's bar shows the outage from its first moment, not only once a snapshot is rebuilt.
      expect((await page()).body).toMatch(TODAY_MAJOR_OUTAGE);
      clock += 60_000; // the uptime figure has dropped below 100% (it is floored)
      const before = await page();
      for (const wait of [5_000, 17_000, 32_000, 300_000]) {
        clock += wait; // each past the snapshot's maximum age: it is read and drawn again
        expect(await page()).toEqual(before);
      }
      await t.call("POST", `/api/v1/incidents/${opened.json.id}/updates`, {
        status: "identified",
        body: "y",
      });
      expect((await page()).etag).not.toBe(before.etag);
    } finally {
      await t.close();
    }
  });

  it("answers a write once it hears its own announcement back, and drops its snapshot once for it", async () => {
    const t = await startTestApp("pglite");
    const invalidate = vi.spyOn(SnapshotCache.prototype, "invalidate");
    try {
      await t.call("POST", "/api/v1/components", { id: "app", name: "App" });
      expect((await t.app.inject("/")).statusCode).toBe(200);
      invalidate.mockClear();
      const started = performance.now();
      const written = await t.call("PATCH", "/api/v1/components/app", { name: "The app" });
      expect(written.status).toBe(200);
      // Not the echo's time limit (1 s): it was heard.
      expect(performance.now() - started).toBeLessThan(900);
      // The page list's cache and the page's, each once: the echo drops nothing again.
      expect(invalidate).toHaveBeenCalledTimes(2);
      expect((await t.app.inject("/")).body).toContain("The app");
    } finally {
      invalidate.mockRestore();
      await t.close();
    }
  });

  it("answers a write once every server listening has acknowledged its change", async () => {
    const sent: string[] = [];
    const fake = {
      kind: "postgres",
      query: async (sql: string, params: string[]) => {
        if (sql.includes("pg_stat_activity")) return [{ n: 3 }]; // this server and two others
        sent.push(params[1]!);
        return [];
      },
    } as unknown as Database;
    const applied: (string | undefined)[] = [];
    const writer = new PageChanges(
      fake,
      (ws) => applied.push(ws),
      () => true,
    );
    const other = new PageChanges(
      fake,
      (ws) => applied.push(ws),
      () => true,
    );
    let answered = false;
    const announced = writer.announce("ws1").then(() => (answered = true));
    await until("the change to be sent", async () => sent.length === 1);
    const change = sent[0]!;
    writer.heard(change); // its own echo: nothing to drop again
    other.heard(change); // another server drops its snapshot and acknowledges
    expect(applied).toEqual(["ws1"]);
    await until("the acknowledgement to be sent", async () => sent.length === 2);
    writer.heard(sent[1]!);
    await new Promise((r) => setTimeout(r, 20));
    expect(answered).toBe(false); // the third server has not acknowledged yet
    writer.heard(sent[1]!); // the third acknowledges with the same payload
    await announced;
    expect(answered).toBe(true);
  });

  it("never serves a rebuild begun before the latest change as current", async () => {
    // Each load reads `committed` when it begins, then waits until the test lets it finish.
    let committed = 0;
    const loads: { read: number; finish: () => void }[] = [];
    const cache = new SnapshotCache(
      () =>
        new Promise<number>((resolve) => {
          const read = committed;
          loads.push({ read, finish: () => resolve(read) });
        }),
      () => Date.now(),
    );
    const tick = () => new Promise((r) => setTimeout(r, 0));
    const first = cache.current();
    await tick();
    loads[0]!.finish();
    expect((await first).state).toBe(0);

    cache.invalidate(); // a change; its rebuild reads the database before the next change commits
    const during = cache.current();
    await tick();
    committed = 1;
    cache.invalidate(); // the next change commits and is announced while that rebuild is under way
    const after = [cache.current(), cache.current()];
    await tick();
    expect(loads).toHaveLength(3);
    expect(loads[2]!.read).toBe(1);
    loads[2]!.finish();
    expect((await Promise.all(after)).map((s) => s.state)).toEqual([1, 1]);
    loads[1]!.finish(); // the older rebuild ends last: it never replaces the newer snapshot
    await during;
    expect((await cache.current()).state).toBe(1);
    expect(loads).toHaveLength(3);
  });

  it("tells other processes on PostgreSQL about a change", async () => {
    const database = await freshDatabase("postgres");
    const url = (database as any).pool.options.connectionString;
    const ws = await createWorkspace(database.db, { slug: "acme", name: "Acme" });
    const { secret } = await createToken(database.db, { workspaceId: ws.id, name: "t" });
    const writer = await buildServer({ database });
    const readerDb = await (await import("../src/storage/database.ts")).openDatabase({ url });
    const reader = await buildServer({ database: readerDb });
    try {
      expect((await reader.inject("/api/v2/components.json")).json().components).toEqual([]);
      await writer.inject({
        method: "POST",
        url: "/api/v1/components",
        headers: { authorization: `Bearer ${secret}` },
        payload: { id: "x", name: "X" },
      });
      let seen = 0;
      for (let i = 0; i < 50 && seen === 0; i++) {
        seen = (await reader.inject("/api/v2/components.json")).json().components.length;
        if (!seen) await new Promise((r) => setTimeout(r, 20));
      }
      expect(seen).toBe(1);
    } finally {
      await writer.close();
      await reader.close();
      await readerDb.close();
      await database.close();
    }
  });

  it("LISTENs again after losing its connection, and meanwhile ages snapshots within a second", async () => {
    const database = await freshDatabase("postgres");
    const url = new URL((database as any).pool.options.connectionString);
    const name = url.pathname.slice(1);
    const ws = await createWorkspace(database.db, { slug: "acme", name: "Acme" });
    const serverDb = await (await import("../src/storage/database.ts")).openDatabase({ url: url.toString() });
    const app = await buildServer({ database: serverDb });
    const admin = new (await import("pg")).default.Client({
      connectionString: url.toString().replace(url.pathname, "/postgres"),
    });
    await admin.connect();
    const listenerUp = async () =>
      ((await app.inject("/healthz")).json().listen.amends_changes as string) === "connected";
    try {
      expect((await app.inject("/api/v2/components.json")).json().components).toEqual([]);
      expect(await listenerUp()).toBe(true);
      // Its LISTEN connection is cut, and no new connection may open: the pool's open ones still work.
      await admin.query(`alter database ${name} allow_connections false`);
      await admin.query(
        "select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and query ilike 'listen %'",
        [name],
      );
      await until("the LISTEN to be reported down", async () => !(await listenerUp()));
      expect((await app.inject("/healthz")).json().status).toBe("degraded");
      expect((await app.inject("/metrics")).body).toMatch(
        /amends_listen_connected\{channel="amends_changes"\} 0/,
      );
      // A change this server cannot hear of: it shows within a couple of seconds all the same.
      await createComponent(database.db, ws.id, { id: "x", name: "X" }, new Date());
      const changed = Date.now();
      await until(
        "the page to show the change",
        async () => (await app.inject("/api/v2/components.json")).json().components.length === 1,
        5_000,
      );
      expect(Date.now() - changed).toBeLessThan(3_000);
      await admin.query(`alter database ${name} allow_connections true`);
      await until("the LISTEN to be back", listenerUp);
      // Heard again: a change announced from another process shows at once, not a snapshot age later.
      await createComponent(database.db, ws.id, { id: "y", name: "Y" }, new Date());
      await announcePageChange(database, ws.id);
      await until(
        "the page to show the announced change",
        async () => (await app.inject("/api/v2/components.json")).json().components.length === 2,
        1_000,
      );
    } finally {
      await admin.query(`alter database ${name} allow_connections true`).catch(() => {});
      await admin.end();
      await app.close();
      await serverDb.close();
      await database.close();
    }
  });

  it("keeps serving the last state, marked stale, when the database is gone", async () => {
    const database = await freshDatabase("postgres");
    const url = new URL((database as any).pool.options.connectionString);
    const ws = await createWorkspace(database.db, { slug: "acme", name: "Acme" });
    const { secret } = await createToken(database.db, { workspaceId: ws.id, name: "t" });
    let clock = Date.now();
    const app = await buildServer({ database, now: () => new Date(clock) });
    try {
      await app.inject({
        method: "POST",
        url: "/api/v1/components",
        headers: { authorization: `Bearer ${secret}` },
        payload: { id: "x", name: "Payments" },
      });
      expect((await app.inject("/")).statusCode).toBe(200);
      // The database goes away: no new connections, existing ones killed.
      const admin = new (await import("pg")).default.Client({
        connectionString: url.toString().replace(url.pathname, "/postgres"),
      });
      await admin.connect();
      await admin.query(`alter database ${url.pathname.slice(1)} allow_connections false`);
      await admin.query("select pg_terminate_backend(pid) from pg_stat_activity where datname = $1", [
        url.pathname.slice(1),
      ]);
      await admin.end();
      clock += 60_000; // past the snapshot's maximum age: it must try the database again
      // The old page answers at once while the refresh is tried; once it fails, the page says so.
      expect((await app.inject("/")).statusCode).toBe(200);
      await until("the page to say it is stale", async () =>
        /could not be refreshed/.test((await app.inject("/")).body),
      );
      const page = await app.inject("/");
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain("Payments");
      const summary = await app.inject("/api/v2/summary.json");
      expect(summary.statusCode).toBe(200);
      expect(summary.json().components[0].name).toBe("Payments");
      expect((await app.inject("/healthz")).statusCode).toBe(503);
    } finally {
      await app.close();
      await database.close().catch(() => {});
    }
  });
});
