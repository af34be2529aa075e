import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { countCompanyData } from "../src/company-data/store.ts";
import { generateDemo } from "../src/demo/generate.ts";
import { loadDemo } from "../src/demo/load.ts";
import { listIncidents } from "../src/incidents/store.ts";
import { QUEUES, startQueue } from "../src/notifications/queue.ts";
import { openDatabase } from "../src/storage/database.ts";
import { createWorkspace, findWorkspace } from "../src/workspaces/store.ts";
import { BACKENDS, freshDatabase } from "./support/backends.ts";

const reference = new Date("2026-11-22T12:00:00Z");

describe("demo data", () => {
  it("is deterministic and shaped like the fleet", () => {
    const a = generateDemo(reference);
    const b = generateDemo(reference);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(a.customers).toHaveLength(2000);
    expect(a.sessions.length).toBeGreaterThan(19_000);
    expect(new Set(a.customers.map((c) => c.homeRegion))).toEqual(
      new Set(["milan", "rome", "berlin", "hamburg", "toronto", "denver"]),
    );
    expect(a.outage.startedAt.toISOString()).toBe("2026-11-15T02:00:00.000Z");
    expect(a.outage.resolvedAt!.toISOString()).toBe("2026-11-15T16:00:00.000Z");
    // Rentals caught by the outage could only be ended after it.
    const stranded = a.sessions.filter(
      (s) => s.startedAt < a.outage.resolvedAt! && s.endedAt! > a.outage.startedAt,
    );
    expect(stranded.length).toBeGreaterThan(50);
    for (const s of stranded) expect(s.endedAt!.getTime()).toBeGreaterThan(a.outage.resolvedAt!.getTime());
    for (const s of a.sessions) expect(Number.isInteger(s.charge)).toBe(true);
  });
});

describe.each(BACKENDS)("storage on %s", (backend) => {
  it("loads the demo in one transaction and refuses a second load", async () => {
    const database = await freshDatabase(backend);
    try {
      const loaded = await loadDemo(database, reference);
      const counts = await countCompanyData(database, loaded.workspace.id);
      expect(counts).toEqual({
        customers: 2000,
        sessions: loaded.counts.sessions,
        charges: loaded.counts.charges,
      });
      const [outage] = await listIncidents(database.db, loaded.workspace.id);
      expect(outage!.updates).toHaveLength(4);
      await expect(loadDemo(database, reference)).rejects.toThrow(/already exists/);
    } finally {
      await database.close();
    }
  }, 60_000);

  it("rolls a failed transaction back entirely", async () => {
    const database = await freshDatabase(backend);
    try {
      await expect(
        database.transaction(async (tx) => {
          await createWorkspace(tx.db, { slug: "acme", name: "Acme" });
          await tx.query("select * from no_such_table");
        }),
      ).rejects.toThrow();
      expect(await findWorkspace(database.db, "acme")).toBeUndefined();
    } finally {
      await database.close();
    }
  });

  it("copies rows in, whatever their text holds, inside and outside a transaction", async () => {
    const database = await freshDatabase(backend);
    try {
      const odd = ["tab\there", "new\nline", "back\\slash \\N", "cr\r", "\\", "", "naïve ✓"];
      const columns =
        "workspace_id run_id key customer_id kind amount currency target already_applied refunded_elsewhere policy_group rule breakdown".split(
          " ",
        );
      const row = (run: string, id: string, i: number) => [
        ...["w", run, `k${i}`, id, "refund", i * 2 ** 40, i % 2 ? "EUR" : null, i],
        ...[0, 0, "g", id, JSON.stringify([{ rule: id, amount: i }])],
      ];
      await database.copyRows(
        "comp_run_lines",
        columns,
        odd.map((id, i) => row("plain", id, i)),
      );
      await database.transaction((tx) =>
        tx.copyRows(
          "comp_run_lines",
          columns,
          odd.map((id, i) => row("tx", id, i)),
        ),
      );
      const back = await database.query<Record<string, unknown>>(
        'select run_id, customer_id, amount, currency, rule, breakdown from comp_run_lines order by run_id, customer_id collate "C"',
      );
      const expected = (run: string) =>
        odd
          .map((id, i) => ({
            run_id: run,
            customer_id: id,
            amount: i * 2 ** 40,
            currency: i % 2 ? "EUR" : null,
            rule: id,
            breakdown: [{ rule: id, amount: i }],
          }))
          .sort((a, b) => (a.customer_id < b.customer_id ? -1 : 1));
      expect(back).toEqual([...expected("plain"), ...expected("tx")]);
    } finally {
      await database.close();
    }
  });
});

describe("migrations", () => {
  it("reopen an embedded database directory without re-applying", async () => {
    const dir = mkdtempSync(join(tmpdir(), "amends-pglite-"));
    try {
      const first = await openDatabase({ dataDir: dir });
      await createWorkspace(first.db, { slug: "acme", name: "Acme" });
      await first.close();
      const second = await openDatabase({ dataDir: dir });
      expect((await findWorkspace(second.db, "acme"))?.name).toBe("Acme");
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it("run safely from several processes at once on PostgreSQL", async () => {
    const seed = await freshDatabase("postgres");
    const url = (seed as any).pool.options.connectionString as string;
    // freshDatabase migrated already; drop the schema so four openers race to create it.
    await seed.query(
      "drop schema public cascade; create schema public; drop schema if exists drizzle cascade",
    );
    await seed.close();
    const opened = await Promise.all([1, 2, 3, 4].map(() => openDatabase({ url })));
    const rows = await opened[0]!.query<{ n: number }>(
      "select count(*)::int as n from drizzle.__drizzle_migrations",
    );
    expect(rows[0]!.n).toBeGreaterThan(0);
    await Promise.all(opened.map((d) => d.close()));
  }, 60_000);
});

describe("a COPY into PostgreSQL", () => {
  it("fails with the server's error, not a hang, when its connection is cut midway", async () => {
    const database = await freshDatabase("postgres");
    const admin = await freshDatabase("postgres");
    try {
      await database.exec("create table copy_cut (a text)");
      async function* source() {
        for (let i = 0; i < 200; i++) {
          if (i === 20)
            await admin.query(
              "select pg_terminate_backend(pid) from pg_stat_activity where query ilike 'copy%copy_cut%'",
            );
          yield `${"x".repeat(70_000)}\n`;
        }
      }
      // Whichever comes first: the server's word, or the reset of a write to its closed socket.
      // Either way the COPY fails at once, and nothing is left for the process to trip on.
      const cut = /terminating connection|ECONNRESET|EPIPE|Connection terminated/;
      await expect(database.copyFrom("copy_cut", ["a"], source())).rejects.toThrow(cut);
      // The pool goes on with a sound connection; so it does after the same inside a transaction.
      expect(await database.query("select 1 as one")).toEqual([{ one: 1 }]);
      await expect(database.transaction((tx) => tx.copyFrom("copy_cut", ["a"], source()))).rejects.toThrow(
        cut,
      );
      expect(await database.query("select 1 as one")).toEqual([{ one: 1 }]);
    } finally {
      await admin.close();
      await database.close().catch(() => {});
    }
  }, 30_000);
});

describe("the delivery queue's set-up", () => {
  it("survives several workers starting at once on a fresh PostgreSQL database", async () => {
    const seed = await freshDatabase("postgres");
    const url = (seed as any).pool.options.connectionString as string;
    await seed.close();
    // Each opener is a pool of its own, as each worker process has; all create pg-boss's schema and queues.
    const opened = await Promise.all([1, 2, 3, 4].map(() => openDatabase({ url })));
    try {
      const bosses = await Promise.all(opened.map((d) => startQueue(d)));
      await Promise.all(bosses.map((b) => b.stop({ graceful: false, wait: true })));
      const queues = await opened[0]!.query<{ name: string }>("select name from pgboss.queue order by name");
      expect(queues.map((q) => q.name)).toEqual(Object.values(QUEUES).sort());
    } finally {
      await Promise.all(opened.map((d) => d.close()));
    }
  }, 60_000);
});
