import type { FastifyInstance } from "fastify";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { countOpenIncidents } from "../incidents/store.ts";
import { processRegistry } from "../lib/metrics.ts";
import { QUEUES } from "../notifications/queue.ts";
import type { FastLane } from "../status-page/fast-lane.ts";
import type { Database } from "../storage/database.ts";

/**
 * Prometheus metrics on a registry of this server's own, so tests can run several servers: the
 * process's own counters (lib/metrics.ts), HTTP, and gauges read at scrape time: open
 * incidents and the notification queue, from the database, which every process shares.
 */
export function registerMetrics(app: FastifyInstance, database: Database, lane?: FastLane): Registry {
  const registry = processRegistry();
  const requests = new Counter({
    name: "amends_http_requests_total",
    help: "HTTP requests by method, route and status code",
    labelNames: ["method", "route", "status"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "amends_http_request_duration_seconds",
    help: "HTTP request duration",
    labelNames: ["method", "route"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  new Gauge({
    name: "amends_open_incidents",
    help: "Incidents not yet resolved, all workspaces",
    registers: [registry],
    async collect() {
      // With the database down the other metrics (the LISTEN gauge among them) still answer.
      const open = await answered(countOpenIncidents(database.db));
      if (open === undefined) leaveOut(this);
      else this.set(open);
    },
  });
  const queue = queueReader(database);
  new Gauge({
    name: "amends_notification_waiting_events",
    help: "Outbox events (and messages to one customer) not yet dispatched or fanned out into messages; those waiting for a person to confirm their SMS are not counted",
    registers: [registry],
    async collect() {
      const q = await queue();
      if (q.outbox) this.set(q.outbox.n);
      else leaveOut(this);
    },
  });
  new Gauge({
    name: "amends_notification_waiting_messages",
    help: "Messages in send jobs no worker has taken yet, retries included (a retried job's messages already sent are skipped when it runs)",
    registers: [registry],
    async collect() {
      const q = await queue();
      if (q.send) this.set(q.send.n);
      else leaveOut(this);
    },
  });
  new Gauge({
    name: "amends_notification_oldest_waiting_seconds",
    help: "Age of the oldest work waiting, by stage: outbox (since the event was created), send (since its send job was queued); 0 when nothing waits",
    labelNames: ["stage"],
    registers: [registry],
    async collect() {
      const q = await queue();
      this.reset();
      if (q.outbox) this.set({ stage: "outbox" }, q.outbox.age);
      if (q.send) this.set({ stage: "send" }, q.send.age);
    },
  });
  new Gauge({
    name: "amends_listen_connected",
    help: "1 while this process's LISTEN on the channel is connected, 0 while it is being re-established",
    labelNames: ["channel"],
    registers: [registry],
    collect() {
      this.reset();
      const up = new Map<string, boolean>();
      for (const l of database.listeners()) up.set(l.channel, (up.get(l.channel) ?? true) && l.connected);
      for (const [channel, connected] of up) this.set({ channel }, connected ? 1 : 0);
    },
  });
  let counted = 0;
  new Counter({
    name: "amends_http_fast_lane_responses_total",
    help: "Public documents answered from the fast lane, before routing (not in amends_http_requests_total)",
    registers: [registry],
    collect() {
      const hits = lane?.hits ?? 0;
      this.inc(hits - counted);
      counted = hits;
    },
  });
  app.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "unmatched";
    requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    duration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });
  return registry;
}

/** A scrape waits this long for the database, then answers without what it could not read. */
const SCRAPE_DB_TIMEOUT_MS = 2_000;

/** No sample at all, rather than a 0 that would read as a fact: an unknown value is left out. */
function leaveOut(gauge: Gauge) {
  gauge.reset();
  gauge.remove();
}

/** The promise's value, or undefined when it fails or takes longer than a scrape should wait. */
function answered<T>(promise: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(resolve, SCRAPE_DB_TIMEOUT_MS, undefined);
  });
  return Promise.race([promise.catch(() => undefined), late]).finally(() => clearTimeout(timer));
}

interface Waiting {
  n: number;
  /** seconds */
  age: number;
}

/**
 * The notification queue as the database has it, read once per scrape for the three gauges.
 * Both reads walk only what waits, through indexes that exist: outbox_status (workspace,
 * status) per workspace, and pg-boss's fetch index (job_i5: name, partial on state < active),
 * never the tables of everything ever sent (deliveries has no index on its status). Measured
 * on PostgreSQL with 1 M outbox rows done and 100 k send jobs completed: about 1 ms each, and
 * 70 ms with 1 M messages waiting (their jobs' item lists are read). A read that fails (the
 * database down, pg-boss not yet set up on it) leaves its gauges out.
 */
function queueReader(database: Database): () => Promise<{ outbox?: Waiting; send?: Waiting }> {
  let reading: Promise<{ outbox?: Waiting; send?: Waiting }> | undefined;
  // Asked, not queried blindly: a failed statement costs its pooled connection (pg-pool drops it).
  let queueSetUp = false;
  const sendQueue = async () => {
    queueSetUp ||= Boolean(
      (await database.query<{ ok: boolean }>("select to_regclass('pgboss.job') is not null as ok"))[0]?.ok,
    );
    if (!queueSetUp) throw new Error("pg-boss is not set up on this database");
    return database.query<{ n: number; age: number | null }>(
      `select coalesce(sum(jsonb_array_length(data->'items')), 0)::int as n,
              extract(epoch from now() - min(created_on))::float8 as age
         from pgboss.job where name = $1 and state < 'active'`,
      [QUEUES.send],
    );
  };
  const read = async () => {
    const [outbox, send] = await Promise.all([
      answered(
        database.query<{ n: number; age: number | null }>(
          `select coalesce(sum(w.n), 0)::int as n, extract(epoch from now() - min(w.oldest))::float8 as age
             from workspaces, lateral (
               select count(*) as n, min(o.created_at) as oldest from outbox_messages o
                where o.workspace_id = workspaces.id and o.status in ('pending', 'dispatching', 'fanning_out')) w`,
        ),
      ),
      answered(sendQueue()),
    ]);
    const waiting = (rows?: { n: number; age: number | null }[]) =>
      rows?.[0] && { n: Number(rows[0].n), age: Math.max(0, Number(rows[0].age ?? 0)) };
    return { outbox: waiting(outbox), send: waiting(send) };
  };
  // The three gauges of one scrape are collected at once: they share the read in flight.
  return () => {
    reading ??= read().finally(() => {
      reading = undefined;
    });
    return reading;
  };
}
