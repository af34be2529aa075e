/**
 * The durable queue: pg-boss in the same database, on PostgreSQL and on PGlite alike. It talks
 * through our own connection (its `db` adapter), so PGlite needs no second client: statements
 * with parameters go through `query`, pg-boss's parameterless multi-statement SQL through `exec`.
 */
import { createHash } from "node:crypto";
import PgBoss from "pg-boss";
import type { Database } from "../storage/database.ts";

export const QUEUES = {
  /** one job per event: pages the audience into delivery rows and send jobs */
  fanout: "notify-fanout",
  /** one job per chunk of recipients of one event */
  send: "notify-send",
  /** held messages whose quiet hours or digest window ended */
  release: "notify-release",
} as const;

/** The advisory lock under which one process at a time sets pg-boss up. */
const QUEUE_SETUP_LOCK = 7_311_002_018;
/** Retries with exponential backoff and jitter (pg-boss's retryBackoff): 2 s, 4 s, 8 s … about 9 min in all. */
const RETRY = { retryLimit: 12, retryDelay: 2, retryBackoff: true };

export interface QueueTuning {
  /**
   * a job active this long is failed and retried (default 300 s): a last resort, as a dead
   * worker's sends and fan-outs are taken up after their lease (see notifier.ts)
   */
  expireInSeconds?: number;
  /** how often expired jobs are looked for (default 30 s) */
  maintenanceIntervalSeconds?: number;
}

export async function startQueue(database: Database, tuning: QueueTuning = {}): Promise<PgBoss> {
  const boss = new PgBoss({
    db: {
      async executeSql(text: string, values?: unknown[]) {
        return { rows: values?.length ? await database.query(text, values) : await database.exec(text) };
      },
    },
    schema: "pgboss",
    // Our own timers drive the dispatcher; pg-boss keeps its maintenance (expiry, archiving).
    schedule: false,
    maintenanceIntervalSeconds: tuning.maintenanceIntervalSeconds ?? 30,
  });
  boss.on("error", (err) => {
    if (process.env.AMENDS_DEBUG) console.error("pg-boss:", err);
  });
  // Workers starting together on a fresh database would create pg-boss's schema and queues
  // (tables, partitions) at once and fail on each other: one at a time.
  await database.exclusively(QUEUE_SETUP_LOCK, async () => {
    await boss.start();
    const expireInSeconds = tuning.expireInSeconds ?? 300;
    for (const name of Object.values(QUEUES)) {
      await boss.createQueue(name, { name, ...RETRY, expireInSeconds });
      await boss.updateQueue(name, { name, ...RETRY, expireInSeconds });
    }
  });
  return boss;
}

/**
 * A job id derived from what the job means, so that sending the same job twice (after a crash,
 * from two processes) inserts it once: pg-boss ignores an id it already holds.
 */
export function jobId(...parts: string[]): string {
  const h = createHash("sha256").update(parts.join("\u0000")).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
