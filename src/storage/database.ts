/**
 * Opens the database: PGlite in a directory (the zero-setup default) or PostgreSQL when a
 * `postgres://` URL is given. Both get the same drizzle schema and the same migrations,
 * applied on open. On PostgreSQL many processes may start at once, so migrating holds an
 * advisory lock on one connection.
 */
import { once } from "node:events";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { PGlite, type Transaction } from "@electric-sql/pglite";
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import { migrate as migratePg } from "drizzle-orm/node-postgres/migrator";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import pg from "pg";
import { from as copyFromStdin } from "pg-copy-streams";
import * as schema from "./schema.ts";

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface Database {
  db: Db;
  kind: "pglite" | "postgres";
  /** Raw parameterised SQL, for bulk paths (`unnest` arrays) and health checks. */
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]>;
  /** Several statements without parameters (DDL, pg-boss's migrations); the rows of all results. */
  exec<R = Record<string, unknown>>(text: string): Promise<R[]>;
  /**
   * Calls `fn` with the payload of every NOTIFY on `channel` (from any process on PostgreSQL);
   * returns a function that stops listening.
   */
  listen(channel: string, fn: (payload: string) => void): Promise<() => Promise<void>>;
  /**
   * This process's LISTENs and whether each is connected now. On PostgreSQL a lost connection
   * is re-established with backoff; meanwhile notifications are missed, so once it is back `fn`
   * is called once with an empty payload ("anything may have changed").
   */
  listeners(): ListenerStatus[];
  /**
   * Appends rows to a table with COPY, several times cheaper for the database than an insert
   * of `unnest` arrays: for the largest bulk writes (a preview's lines).
   */
  copyRows(table: string, columns: readonly string[], rows: readonly CopyValue[][]): Promise<void>;
  /**
   * Streams COPY text (see `copyText`; `options` such as "with (format csv)" say otherwise) into
   * a table: the bulk import's staging. An error thrown by `source` aborts the COPY and is
   * rethrown as it is. PGlite copies a large source in several statements, each beginning with
   * a piece of it: pieces must end at a row's end, and `options` suit every slice (no header).
   */
  copyFrom(
    table: string,
    columns: readonly string[],
    source: AsyncIterable<string>,
    options?: string,
  ): Promise<void>;
  /**
   * Runs `fn` while holding a cluster-wide advisory lock named by `key`, so that processes
   * starting together do one-time set-up (pg-boss's schema and queues) one after another.
   * PGlite has one process: the lock is held in its memory.
   */
  exclusively<T>(key: number, fn: () => Promise<T>): Promise<T>;
  /** Runs `fn` in one transaction on one connection; raw and drizzle queries alike. */
  transaction<T>(fn: (tx: Database) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export type CopyValue = string | number | boolean | null;

export interface ListenerStatus {
  channel: string;
  connected: boolean;
  /** when the connection was lost, while it is */
  downSince: Date | null;
}

export const copyField = (v: CopyValue) =>
  v === null
    ? "\\N"
    : typeof v === "string"
      ? /[\\\t\n\r]/.test(v)
        ? v.replace(/[\\\t\n\r]/g, copyEscape)
        : v
      : String(v);
const copyEscape = (c: string) => (c === "\\" ? "\\\\" : c === "\t" ? "\\t" : c === "\n" ? "\\n" : "\\r");

/** COPY's text format: tab-separated, \N for null, backslash escapes. */
export function copyText(rows: readonly CopyValue[][]): string {
  let text = "";
  for (const row of rows) text += `${row.map(copyField).join("\t")}\n`;
  return text;
}

const TIMESTAMPTZ_OID = 1184;

/**
 * A timestamptz as PostgreSQL writes it ("0001-01-01 00:00:00+00", "2025-01-15 10:00:00.123456+05:30",
 * "0044-03-15 12:00:00+00 BC"), read as node-postgres reads it. PGlite's own reader hands the
 * text to Date, which takes years below 100 for 1900s and 2000s (year 1 came back as 2001).
 */
export function parseTimestamptz(text: string): Date {
  const m =
    /^(\d{4,})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d+))?([+-])(\d\d)(?::(\d\d))?(?::(\d\d))?( BC)?$/.exec(
      text,
    );
  if (!m) return new Date(text); // infinity and the like: as Date reads them
  const [, y, mo, d, h, mi, sec, frac, sign, oh, om, os, bc] = m;
  const year = bc ? 1 - Number(y) : Number(y);
  const ms = frac ? Math.floor(Number(`0.${frac}`) * 1000) : 0;
  const date = new Date(Date.UTC(2000, 0, 1, Number(h), Number(mi), Number(sec), ms));
  date.setUTCFullYear(year, Number(mo) - 1, Number(d));
  const offset = (Number(oh) * 3600 + Number(om ?? 0) * 60 + Number(os ?? 0)) * (sign === "-" ? -1 : 1);
  return new Date(date.getTime() - offset * 1000);
}

/** PGlite reads a COPY's input from one Blob in memory: a big file goes in slices this large. */
const BLOB_BYTES = 8 * 2 ** 20;

const copySql = (table: string, columns: readonly string[], source: string, options = "") =>
  `copy ${table} (${columns.join(", ")}) from ${source} ${options}`;

const MIGRATIONS = fileURLToPath(new URL("../../drizzle", import.meta.url));
/** Arbitrary constant shared by every Amends process migrating the same database. */
const MIGRATION_LOCK = 7_311_002_017;

// int8 columns hold money in minor units and counts; keep them exact as JS numbers and
// refuse anything past 2^53 rather than round it.
pg.types.setTypeParser(20, (v) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new Error(`int8 value ${v} is beyond 2^53`);
  return n;
});

export type DatabaseTarget = { url: string } | { dataDir: string } | { memory: true };

export function describeTarget(target: DatabaseTarget): string {
  if ("url" in target) return target.url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
  if ("dataDir" in target) return `PGlite at ${target.dataDir}`;
  return "PGlite in memory";
}

export async function openDatabase(
  target: DatabaseTarget,
  options: { migrate?: boolean } = {},
): Promise<Database> {
  const database = "url" in target ? await openPostgres(target.url) : await openPglite(target);
  if (options.migrate !== false) {
    try {
      await migrateDatabase(database);
    } catch (err) {
      await database.close();
      throw err;
    }
  }
  return database;
}

async function openPglite(
  target: { dataDir: string } | { memory: true },
): Promise<Database & { pglite: PGlite }> {
  if ("dataDir" in target) mkdirSync(target.dataDir, { recursive: true });
  const options = { parsers: { [TIMESTAMPTZ_OID]: parseTimestamptz } };
  const pglite =
    "dataDir" in target ? await PGlite.create(target.dataDir, options) : await PGlite.create(options);
  const listening = new Set<ListenerStatus>();
  const locks = new Map<number, Promise<void>>();
  const wrap = (client: PGlite | Transaction): Database => ({
    db: joinable(drizzlePglite(client as PGlite, { schema }) as unknown as Db, client !== pglite),
    kind: "pglite",
    async query<R>(text: string, params: unknown[] = []) {
      return (await client.query<R>(text, params)).rows;
    },
    async exec<R>(text: string) {
      return (await client.exec(text)).flatMap((r) => r.rows as R[]);
    },
    async copyRows(table, columns, rows) {
      if (rows.length === 0) return;
      const blob = new Blob([copyText(rows)]);
      await client.query(copySql(table, columns, "'/dev/blob'"), [], { blob });
    },
    async copyFrom(table, columns, source, options) {
      const sql = copySql(table, columns, "'/dev/blob'", options);
      let parts: string[] = [];
      let size = 0;
      const flush = async () => {
        if (size === 0) return;
        const blob = new Blob(parts);
        parts = [];
        size = 0;
        await client.query(sql, [], { blob });
      };
      for await (const text of source) {
        parts.push(text);
        size += text.length;
        if (size >= BLOB_BYTES) await flush();
      }
      await flush();
    },
    // One process: a lock of this process's own is the cluster-wide one.
    async exclusively(key, fn) {
      const before = locks.get(key) ?? Promise.resolve();
      const turn = before.then(fn, fn);
      const held = turn.then(
        () => {},
        () => {},
      );
      locks.set(key, held);
      try {
        return await turn;
      } finally {
        if (locks.get(key) === held) locks.delete(key);
      }
    },
    transaction: (fn) => pglite.transaction((tx) => fn(wrap(tx))),
    async listen(channel, fn) {
      const stop = await pglite.listen(channel, fn);
      const status = { channel, connected: true, downSince: null };
      listening.add(status);
      return async () => {
        listening.delete(status);
        await stop();
      };
    },
    listeners: () => [...listening],
    close: () => pglite.close(),
  });
  return { ...wrap(pglite), pglite };
}

/**
 * One of the pool's connections, for one piece of work. A connection that breaks while checked
 * out (a backend terminated during a COPY, a reset) also emits 'error', which with no listener
 * would end the process: the work already fails with that error, so here it is only noted, and
 * the broken connection is not pooled again.
 */
async function checkOut(
  pool: pg.Pool,
): Promise<{ conn: pg.PoolClient; release: (failed?: boolean) => void }> {
  const conn = await pool.connect();
  let broken = false;
  const onError = () => {
    broken = true;
  };
  conn.on("error", onError);
  return {
    conn,
    /** `failed`: the work failed in a way that may have left the connection unusable */
    release: (failed = false) => {
      // A broken one keeps the listener: its socket may still report more before it closes.
      if (!broken) conn.off("error", onError);
      conn.release(broken || failed);
    },
  };
}

async function openPostgres(url: string): Promise<Database & { pool: pg.Pool }> {
  const pool = new pg.Pool({ connectionString: url, max: Number(process.env.AMENDS_DB_POOL ?? 10) });
  // An idle client's error (server restart) must not crash the process; the next query reconnects.
  pool.on("error", () => {});
  const listening = new Set<ListenerStatus>();
  const wrap = (client: pg.Pool | pg.PoolClient): Database => {
    // A caller may send a connection's next query before the last is done (the preview's
    // pipeline); they run in the order sent. node-postgres would queue them itself, but that
    // is deprecated, so queue here. The pool gives each query a connection of its own.
    let tail: Promise<unknown> = Promise.resolve();
    const inTurn = <T>(run: () => Promise<T>): Promise<T> => {
      if (client instanceof pg.Pool) return run();
      const turn = tail.then(run, run);
      tail = turn.catch(() => {});
      return turn;
    };
    /**
     * A COPY on this client (in its turn), or on a pooled connection of its own. A COPY that
     * failed may have failed with its connection: a pooled one is then not reused.
     */
    const copyOn = async (copy: (conn: pg.PoolClient) => Promise<void>) => {
      if (!(client instanceof pg.Pool)) return inTurn(() => copy(client));
      const { conn, release } = await checkOut(client);
      let failed = false;
      try {
        await copy(conn);
      } catch (err) {
        failed = true;
        throw err;
      } finally {
        release(failed);
      }
    };
    return {
      db: joinable(drizzlePg(client, { schema }) as unknown as Db, client !== pool),
      kind: "postgres",
      async query<R>(text: string, params: unknown[] = []) {
        return (await inTurn(() => client.query(text, params))).rows as R[];
      },
      async exec<R>(text: string) {
        const result: pg.QueryResult | pg.QueryResult[] = await inTurn(() => client.query(text));
        return (Array.isArray(result) ? result : [result]).flatMap((r) => r.rows as R[]);
      },
      async copyRows(table, columns, rows) {
        if (rows.length === 0) return;
        const text = copyText(rows);
        await copyOn(
          (conn) =>
            new Promise<void>((resolve, reject) => {
              const stream = conn.query(copyFromStdin(copySql(table, columns, "stdin")));
              stream.on("finish", resolve);
              stream.on("error", reject);
              stream.end(text);
            }),
        );
      },
      async copyFrom(table, columns, source, options) {
        await copyOn(async (conn) => {
          const stream = conn.query(copyFromStdin(copySql(table, columns, "stdin", options)));
          const done = new Promise<void>((resolve, reject) => {
            stream.on("finish", resolve);
            stream.on("error", reject);
          });
          // Awaited below, unless the source fails first. Once the server has failed the COPY (or
          // the connection dropped), no "drain" comes and writing would throw: its error wins.
          let failed: unknown;
          done.catch((err) => {
            failed ??= err;
          });
          try {
            for await (const text of source) {
              if (failed) throw failed;
              if (!stream.write(text)) await Promise.race([once(stream, "drain"), done]);
            }
          } catch (err) {
            // Aborts the COPY (CopyFail): the connection stays usable, the source's error wins.
            stream.destroy(err as Error);
            await done.catch(() => {});
            throw err;
          }
          stream.end();
          await done;
        });
      },
      async exclusively(key, fn) {
        const { conn, release } = await checkOut(pool);
        try {
          await conn.query("select pg_advisory_lock($1)", [key]);
          return await fn();
        } finally {
          await conn.query("select pg_advisory_unlock($1)", [key]).catch(() => {});
          release();
        }
      },
      async transaction(fn) {
        const { conn, release } = await checkOut(pool);
        const tx = wrap(conn);
        let failed = false;
        try {
          await conn.query("begin");
          const result = await fn(tx);
          await tx.query("commit");
          return result;
        } catch (err) {
          // In turn: after any query fn left in flight, so that none runs outside the transaction.
          // A rollback that fails leaves a connection no one should be handed again.
          await tx.query("rollback").catch(() => {
            failed = true;
          });
          throw err;
        } finally {
          release(failed);
        }
      },
      listen: (channel, fn) => listenOn(url, channel, fn, listening),
      listeners: () => [...listening],
      close: () => pool.end(),
    };
  };
  return { ...wrap(pool), pool };
}

/** Waits between attempts to LISTEN again: quick at first, then every few seconds. */
const LISTEN_RETRY_MS = [100, 250, 500, 1_000, 2_000];

/**
 * LISTENs on a connection of its own, outside the pool, for as long as the caller wants: a lost
 * connection (server restart, network, terminated backend) is re-established with backoff, for
 * ever, and `fn("")` then says that notifications may have been missed meanwhile.
 */
async function listenOn(
  url: string,
  channel: string,
  fn: (payload: string) => void,
  listening: Set<ListenerStatus>,
): Promise<() => Promise<void>> {
  const status: ListenerStatus = { channel, connected: false, downSince: null };
  let client: pg.Client | undefined;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  let attempt = 0;
  const open = async () => {
    // Bounded connect, and TCP keep-alive probes so a connection dropped silently is noticed too.
    const c = new pg.Client({
      connectionString: url,
      connectionTimeoutMillis: 5_000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    const lost = () => {
      if (client !== c) return;
      client = undefined;
      c.end().catch(() => {});
      if (stopped) return;
      status.connected = false;
      status.downSince ??= new Date();
      schedule();
    };
    c.on("notification", (n) => n.channel === channel && fn(n.payload ?? ""));
    c.on("error", lost);
    c.on("end", lost);
    try {
      await c.connect();
      await c.query(`listen "${channel.replace(/"/g, "")}"`);
    } catch (err) {
      c.end().catch(() => {});
      throw err;
    }
    if (stopped) {
      await c.end().catch(() => {});
      return;
    }
    client = c;
    const wasDown = status.downSince !== null;
    status.connected = true;
    status.downSince = null;
    attempt = 0;
    if (wasDown) fn("");
  };
  const schedule = () => {
    const delay = LISTEN_RETRY_MS[Math.min(attempt++, LISTEN_RETRY_MS.length - 1)]!;
    retry = setTimeout(() => {
      retry = undefined;
      if (!stopped) open().catch(() => schedule());
    }, delay);
    retry.unref();
  };
  await open();
  listening.add(status);
  return async () => {
    stopped = true;
    listening.delete(status);
    clearTimeout(retry);
    await client?.end().catch(() => {});
  };
}

/**
 * Inside `Database.transaction` the drizzle instance is bound to the open transaction; a store
 * function that opens its own `db.transaction` then simply joins it (an error still rolls the
 * whole thing back), instead of issuing a nested BEGIN that would commit the outer one early.
 */
function joinable(db: Db, inTransaction: boolean): Db {
  if (inTransaction) db.transaction = ((fn: (tx: Db) => Promise<unknown>) => fn(db)) as Db["transaction"];
  return db;
}

export async function migrateDatabase(database: Database): Promise<void> {
  if (database.kind === "pglite") {
    await migratePglite(database.db as never, { migrationsFolder: MIGRATIONS });
    return;
  }
  // Processes starting together migrate one at a time.
  await database.exclusively(MIGRATION_LOCK, () =>
    migratePg(database.db as never, { migrationsFolder: MIGRATIONS }),
  );
}
