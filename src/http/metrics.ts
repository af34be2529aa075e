import type { FastifyInstance } from "fastify";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { countOpenIncidents } from "../incidents/store.ts";
import type { FastLane } from "../status-page/fast-lane.ts";
import type { Db, ListenerStatus } from "../storage/database.ts";

/** Prometheus metrics on a registry of this server's own, so tests can run several servers. */
export function registerMetrics(
  app: FastifyInstance,
  db: Db,
  lane?: FastLane,
  listeners: () => ListenerStatus[] = () => [],
): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
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
      const open = await countOpenIncidents(db).catch(() => undefined);
      if (open === undefined) this.reset();
      else this.set(open);
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
      for (const l of listeners()) up.set(l.channel, (up.get(l.channel) ?? true) && l.connected);
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
