/**
 * `amends serve` on a database without users prints a one-time link to create the owner
 * (there is no default password); the link works once, and once the owner exists no link is
 * printed again. Runs the real server on the embedded database, on a free port. Servers
 * starting together on one empty database make one link between them.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { firstRun } from "../../src/cli/first-run.ts";
import { serve } from "../../src/cli/serve.ts";
import { createWorkspace } from "../../src/workspaces/store.ts";
import { freshDatabase } from "../support/backends.ts";

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

describe("first run", () => {
  const dir = mkdtempSync(join(tmpdir(), "amends-first-run-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("prints a one-time owner link on an empty database, and none once the owner exists", async () => {
    const port = await freePort();
    const settings = { dataDir: dir, port, host: "127.0.0.1" };
    const lines: string[] = [];
    process.env.AMENDS_NOTIFY = "off";
    let stop = await serve(settings, { demo: false, log: (l) => lines.push(l) });
    try {
      const link = lines.map((l) => /(http:\S+\/admin\/setup\?token=\S+)/.exec(l)?.[1]).find(Boolean);
      expect(link, lines.join("\n")).toMatch(
        new RegExp(`^http://127.0.0.1:${port}/admin/setup\\?token=[\\w-]{40,}$`),
      );
      expect(lines.join("\n")).not.toMatch(/password/i);
      const token = new URL(link!).searchParams.get("token");
      const setup = (email: string) =>
        fetch(`http://127.0.0.1:${port}/api/v1/setup`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ token, email, name: "Olga", password: "the owner's own password" }),
        });
      const res = await setup("olga@fleet.example");
      expect(res.status, await res.clone().text()).toBe(201);
      expect(res.headers.get("set-cookie")).toMatch(/^amends_session=.*HttpOnly/);
      expect(((await res.json()) as { user: { role: string } }).user.role).toBe("owner");
      expect((await setup("eve@fleet.example")).status).toBe(401);
    } finally {
      await stop();
    }
    lines.length = 0;
    stop = await serve(settings, { demo: false, log: (l) => lines.push(l) });
    await stop();
    expect(lines.join("\n")).not.toMatch(/admin\/setup/);
    delete process.env.AMENDS_NOTIFY;
  }, 60_000);
});

describe("first run of servers starting together", () => {
  const setupLinks = (lines: string[]) => lines.filter((l) => /admin\/setup\?token=/.test(l));

  it("makes one owner link on the embedded database, however many starts run at once", async () => {
    // One process holds an embedded database: concurrent starts are concurrent calls in it.
    const database = await freshDatabase("pglite");
    try {
      const now = new Date();
      await createWorkspace(database.db, { slug: "fleet", name: "The Fleet" });
      const runs = await Promise.all([1, 2, 3].map(() => firstRun(database, { demo: false }, now)));
      expect(runs.filter((r) => r.setupToken && r.setupToken !== "elsewhere")).toHaveLength(1);
      expect(runs.filter((r) => r.setupToken === "elsewhere")).toHaveLength(2);
      const links = await database.query<{ workspace_id: string | null }>(
        "select workspace_id from one_time_tokens where kind = 'setup'",
      );
      const workspaces = await database.query<{ id: string }>("select id from workspaces");
      expect(workspaces).toHaveLength(1);
      expect(links).toEqual([{ workspace_id: workspaces[0]!.id }]);
    } finally {
      await database.close();
    }
  }, 120_000);

  it("makes one owner link with its workspace when three servers start on one PostgreSQL", async () => {
    const database = await freshDatabase("postgres");
    const url = (database as unknown as { pool: { options: { connectionString: string } } }).pool.options
      .connectionString;
    process.env.AMENDS_NOTIFY = "off";
    process.env.AMENDS_MONITORS = "off";
    const logs: string[][] = [[], [], []];
    const stops: (() => Promise<void>)[] = [];
    try {
      const started = await Promise.allSettled(
        logs.map(async (lines) => {
          const stop = await serve(
            { databaseUrl: url, dataDir: tmpdir(), port: await freePort(), host: "127.0.0.1" },
            { demo: true, log: (l) => lines.push(l) },
          );
          stops.push(stop);
        }),
      );
      expect(started.map((s) => (s.status === "rejected" ? String(s.reason) : s.status))).toEqual([
        "fulfilled",
        "fulfilled",
        "fulfilled",
      ]);
      expect(logs.flatMap(setupLinks), logs.flat().join("\n")).toHaveLength(1);
      expect(logs.flat().filter((l) => l.startsWith("Loaded the demo"))).toHaveLength(1);
      const links = await database.query<{ workspace_id: string | null }>(
        "select workspace_id from one_time_tokens where kind = 'setup'",
      );
      const workspaces = await database.query<{ id: string }>("select id from workspaces");
      expect(workspaces).toHaveLength(1);
      expect(links).toEqual([{ workspace_id: workspaces[0]!.id }]);
    } finally {
      await Promise.all(stops.map((stop) => stop()));
      await database.close();
      delete process.env.AMENDS_NOTIFY;
      delete process.env.AMENDS_MONITORS;
    }
  }, 120_000);
});
