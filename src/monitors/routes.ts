/**
 * Monitors over HTTP: CRUD, results (raw, hourly, daily), heartbeats (public, by secret URL),
 * probes (registered with a token; they pull assignments and push results).
 */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { monitorsAllowPrivate } from "../config.ts";
import { AmendsError, invalidField, unknownReference } from "../core/errors.ts";
import { MONITOR_KINDS, type MonitorKind, ON_FAILURE, uptimeOf } from "../core/monitors.ts";
import { SIGNAL_EVENTS } from "../core/signals.ts";
import { principal } from "../http/auth.ts";
import type { ApiContext } from "../http/context.ts";
import { ComponentStatusSchema, Id, Instant, InstantOut, iso } from "../http/zod.ts";
import { isPublicTarget, refusedHost } from "../lib/outbound.ts";
import { signalSeries } from "../signals/check.ts";
import { hostPort, resolverHost } from "./checks.ts";
import { type AutomationOptions, defaultLocation, evaluateMonitor, MONITORS_CHANNEL } from "./engine.ts";
import {
  activeMonitors,
  createMonitor,
  createProbe,
  deleteMonitor,
  findHeartbeatMonitor,
  findProbe,
  getMonitor,
  listMonitors,
  listProbes,
  type Monitor,
  type Probe,
  recordResults,
  rollups,
  touchHeartbeat,
  updateMonitor,
} from "./store.ts";

const Confirm = z
  .union([
    z.strictObject({ consecutive: z.number().int().min(1).max(20) }),
    z.strictObject({
      of: z
        .strictObject({ m: z.number().int().min(1).max(50), k: z.number().int().min(1).max(50) })
        .refine((o) => o.m <= o.k, { message: "m must not exceed k", path: ["m"] }),
    }),
  ])
  .describe("down after N consecutive failures, or M failures among the last K checks");

const Signal = z.strictObject({
  event: z.enum(SIGNAL_EVENTS),
  direction: z.enum(["drop", "spike"]).describe("drop: fewer than expected; spike: more"),
  region: z.string().min(1).max(100).optional().describe("only events in this region"),
  source: z
    .enum(["events", "sessions"])
    .optional()
    .describe("events: POST /usage-events (default); sessions: the imported usage sessions' starts and ends"),
  windowMinutes: z.number().int().min(5).max(60).optional().describe("the window counted (15)"),
  dropTo: z.number().min(0.05).max(0.95).optional().describe("drop: surely below this share of normal (0.5)"),
  minCustomers: z
    .number()
    .int()
    .min(1)
    .max(10_000)
    .optional()
    .describe("spike: distinct customers at least (2)"),
  minEvents: z.number().int().min(1).max(100_000).optional().describe("spike: events at least (3)"),
  confidence: z.number().min(0.9).max(0.999999).optional().describe("how sure a verdict must be (0.9999)"),
  weeks: z.number().int().min(2).max(8).optional().describe("past weeks learned from (4)"),
});

const Assertions = z
  .strictObject({
    status: z.array(z.number().int().min(100).max(599)).max(20).optional(),
    keyword: z.string().max(500).optional(),
    absentKeyword: z.string().max(500).optional(),
    jsonPath: z
      .strictObject({ path: z.string().regex(/^\$/, "starts with $").max(200), equals: z.unknown() })
      .optional(),
    maxLatencyMs: z.number().int().min(1).max(600_000).optional(),
    method: z.enum(["GET", "HEAD", "POST"]).optional(),
    headers: z.record(z.string(), z.string().max(1000)).optional(),
    server: z.string().max(100).optional().describe("dns: the resolver to ask, host:port"),
    recordType: z.enum(["A", "AAAA", "CNAME", "MX", "TXT", "NS"]).optional(),
    expect: z.string().max(500).optional().describe("dns: text one of the records must contain"),
    minDaysValid: z.number().int().min(0).max(365).optional().describe("tls: fail this close to expiry"),
    verify: z.boolean().optional().describe("tls: verify the chain (default true)"),
    servername: z.string().max(253).optional(),
    graceSeconds: z
      .number()
      .int()
      .min(0)
      .max(86_400)
      .optional()
      .describe("heartbeat: silence allowed past the interval"),
    signal: Signal.optional().describe("signal: the usage events watched, against past weeks"),
    componentStatus: ComponentStatusSchema.optional().describe(
      "the components' status while down (major_outage)",
    ),
  })
  .describe("what a check must see; the fields that apply depend on the kind");

const Name = z.string().trim().min(1, "must not be empty").max(200, "at most 200 characters");
const MonitorFields = {
  name: Name,
  target: z.string().trim().max(2000),
  componentIds: z.array(Id).max(100),
  intervalSeconds: z.number().int().min(1).max(86_400),
  timeoutMs: z.number().int().min(50).max(120_000),
  retries: z.number().int().min(0).max(5),
  confirm: Confirm,
  minLocations: z.number().int().min(1).max(20),
  assertions: Assertions,
  onFailure: z.enum(ON_FAILURE),
  protocol: Id.nullable(),
  paused: z.boolean(),
};
const MonitorCreate = z.strictObject({
  id: Id.optional(),
  kind: z.enum(MONITOR_KINDS),
  name: MonitorFields.name,
  target: MonitorFields.target.default(""),
  componentIds: MonitorFields.componentIds.default([]),
  intervalSeconds: MonitorFields.intervalSeconds.default(60),
  timeoutMs: MonitorFields.timeoutMs.default(10_000),
  retries: MonitorFields.retries.default(0),
  confirm: Confirm.default({ consecutive: 3 }),
  minLocations: MonitorFields.minLocations.default(1),
  assertions: Assertions.default({}),
  onFailure: MonitorFields.onFailure.default("open_incident"),
  protocol: MonitorFields.protocol.optional(),
  paused: z.boolean().default(false),
});
const MonitorPatch = z.strictObject(
  Object.fromEntries(Object.entries(MonitorFields).map(([k, v]) => [k, v.optional()])) as {
    [K in keyof typeof MonitorFields]: z.ZodOptional<(typeof MonitorFields)[K]>;
  },
);

/** A check (with its retries) must end within its interval, or the next slot finds it still running. */
function checkTiming(kind: string, intervalSeconds: number, timeoutMs: number, retries: number): void {
  if (kind === "heartbeat") return;
  if (timeoutMs * (retries + 1) >= intervalSeconds * 1000)
    throw invalidField(
      "timeoutMs",
      `timeoutMs × (retries + 1) must be shorter than the interval (${intervalSeconds} s)`,
    );
}

/**
 * A target on a private network is refused when it is entered, unless the operator allows it
 * (the check refuses it again when it runs, should the name point elsewhere by then).
 */
async function checkPublic(kind: MonitorKind, target: string, assertions: Record<string, unknown>) {
  if (monitorsAllowPrivate()) return;
  const refused = (field: string) =>
    invalidField(
      field,
      "must be a public address: private, local and loopback networks are refused " +
        "(AMENDS_MONITORS_ALLOW_PRIVATE=1 allows them)",
    );
  if (kind === "heartbeat" || kind === "signal") return;
  if (kind === "dns") {
    // the resolver asked is a target too (an address, which needs no lookup)
    const server = typeof assertions.server === "string" ? resolverHost(assertions.server) : undefined;
    if (server && refusedHost(server)) throw refused("assertions.server");
    return;
  }
  const host =
    kind === "http" ? new URL(target).hostname : kind === "ping" ? target : hostPort(target, 443).host;
  if (!(await isPublicTarget(host))) throw refused("target");
}

/** A signal monitor says which usage it watches; the imported sessions hold no failed attempts. */
function checkSignal(kind: MonitorKind, assertions: z.infer<typeof Assertions>): void {
  if (kind === "signal" && !assertions.signal)
    throw invalidField("assertions.signal", "required: which usage events to watch");
  if (assertions.signal?.source === "sessions" && assertions.signal.event === "session_failed")
    throw invalidField("assertions.signal.event", "sessions record starts and ends, not failed attempts");
}

/** The target must make sense for the kind: a URL, host:port, a name. */
function checkTarget(kind: MonitorKind, target: string): void {
  const bad = (message: string) => invalidField("target", message);
  switch (kind) {
    case "http": {
      let url: URL;
      try {
        url = new URL(target);
      } catch {
        throw bad("an http:// or https:// URL");
      }
      if (url.protocol !== "http:" && url.protocol !== "https:") throw bad("an http:// or https:// URL");
      return;
    }
    case "tcp":
    case "tls":
      try {
        hostPort(target, kind === "tls" ? 443 : undefined);
      } catch {
        throw bad(kind === "tcp" ? "host:port" : "host or host:port");
      }
      return;
    case "dns":
    case "ping":
      if (!/^[A-Za-z0-9.:-]{1,253}$/.test(target)) throw bad("a host name or address");
      return;
    case "heartbeat":
    case "signal":
      return;
  }
}

const MonitorOut = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.enum(MONITOR_KINDS),
  target: z.string(),
  componentIds: z.array(z.string()),
  intervalSeconds: z.number(),
  timeoutMs: z.number(),
  retries: z.number(),
  confirm: z.unknown(),
  minLocations: z.number(),
  assertions: z.record(z.string(), z.unknown()),
  onFailure: z.enum(ON_FAILURE),
  protocol: z.string().nullable(),
  state: z.enum(["up", "down", "pending", "paused"]),
  stateChangedAt: InstantOut.nullable(),
  incidentId: z.string().nullable().describe("the incident this monitor opened and will resolve"),
  heartbeatUrl: z.string().nullable().describe("heartbeat monitors: GET or POST here from your job"),
  lastCheckAt: InstantOut.nullable(),
  lastLatencyMs: z.number().nullable(),
  createdAt: InstantOut,
  updatedAt: InstantOut,
});

export const monitorJson = (m: Monitor): z.infer<typeof MonitorOut> => ({
  id: m.id,
  name: m.name,
  kind: m.kind,
  target: m.target,
  componentIds: m.componentIds,
  intervalSeconds: m.intervalSeconds,
  timeoutMs: m.timeoutMs,
  retries: m.retries,
  confirm: m.confirm,
  minLocations: m.minLocations,
  assertions: m.assertions,
  onFailure: m.onFailure,
  protocol: m.protocol,
  state: m.state,
  stateChangedAt: iso(m.stateChangedAt),
  incidentId: m.incidentId,
  heartbeatUrl: m.heartbeatToken ? `/hooks/heartbeat/${m.heartbeatToken}` : null,
  lastCheckAt: iso(m.lastCheckAt),
  lastLatencyMs: m.lastLatencyMs,
  createdAt: iso(m.createdAt)!,
  updatedAt: iso(m.updatedAt)!,
});

const ResultsQuery = z.strictObject({
  from: Instant.optional(),
  to: Instant.optional(),
  resolution: z.enum(["raw", "hour", "day"]).default("raw"),
  limit: z.coerce.number().int().min(1).max(10_000).default(1_000),
});

const ProbeResults = z.strictObject({
  results: z
    .array(
      z.strictObject({
        monitorId: Id,
        at: Instant,
        ok: z.boolean(),
        latencyMs: z.number().int().min(0).max(3_600_000).nullable().default(null),
        error: z.string().max(2000).optional(),
      }),
    )
    .max(5_000),
});

const Params = z.object({ id: Id });

export interface MonitorRouteOptions extends Omit<AutomationOptions, "now"> {}

declare module "fastify" {
  interface FastifyRequest {
    probe?: Probe;
  }
}

export const monitorRoutes =
  (ctx: ApiContext, options: MonitorRouteOptions): FastifyPluginAsyncZod =>
  async (app) => {
    const tags = ["monitors"];
    const auto: AutomationOptions = { ...options, now: ctx.now };
    const reload = () => ctx.database.query("select pg_notify($1, '')", [MONITORS_CHANNEL]).catch(() => {});
    /** Judges the monitors these results may change: failures, and monitors not known to be up. */
    const judge = async (
      ws: string,
      results: { monitorId: string; ok: boolean }[],
      states: Map<string, string>,
    ) => {
      const ids = new Set(
        results.filter((r) => !r.ok || states.get(r.monitorId) !== "up").map((r) => r.monitorId),
      );
      for (const id of ids) await evaluateMonitor(ctx.database, ws, id, auto);
      if (ids.size) ctx.changed(ws);
    };

    app.get(
      "/monitors",
      {
        schema: {
          operationId: "listMonitors",
          tags,
          summary: "List monitors",
          response: { 200: z.object({ items: z.array(MonitorOut) }) },
        },
        preHandler: ctx.auth("read"),
      },
      async (req) => ({ items: (await listMonitors(ctx.db, principal(req).workspaceId)).map(monitorJson) }),
    );
    app.post(
      "/monitors",
      {
        schema: {
          operationId: "createMonitor",
          tags,
          summary: "Create a monitor",
          body: MonitorCreate,
          response: { 201: MonitorOut },
        },
        preHandler: ctx.auth("monitors:write"),
      },
      async (req, reply) => {
        const b = req.body;
        checkTarget(b.kind, b.target);
        if (b.kind !== "heartbeat" && b.kind !== "signal" && !b.target)
          throw invalidField("target", "required");
        checkSignal(b.kind, b.assertions);
        await checkPublic(b.kind, b.target, b.assertions);
        checkTiming(b.kind, b.intervalSeconds, b.timeoutMs, b.retries);
        const m = await createMonitor(ctx.db, principal(req).workspaceId, b, ctx.now());
        await reload();
        return reply.code(201).send(monitorJson(m));
      },
    );
    app.get(
      "/monitors/:id",
      {
        schema: {
          operationId: "getMonitor",
          summary: "One monitor with its current state",
          tags,
          params: Params,
          response: { 200: MonitorOut },
        },
        preHandler: ctx.auth("read"),
      },
      async (req) => monitorJson(await getMonitor(ctx.db, principal(req).workspaceId, req.params.id)),
    );
    app.patch(
      "/monitors/:id",
      {
        schema: {
          operationId: "updateMonitor",
          tags,
          summary: "Change a monitor; paused: true stops it",
          params: Params,
          body: MonitorPatch,
          response: { 200: MonitorOut },
        },
        preHandler: ctx.auth("monitors:write"),
      },
      async (req) => {
        const ws = principal(req).workspaceId;
        const before = await getMonitor(ctx.db, ws, req.params.id);
        if (req.body.target !== undefined) checkTarget(before.kind, req.body.target);
        if (req.body.target !== undefined || req.body.assertions !== undefined)
          await checkPublic(
            before.kind,
            req.body.target ?? before.target,
            req.body.assertions ?? before.assertions,
          );
        if (req.body.assertions) checkSignal(before.kind, req.body.assertions);
        checkTiming(
          before.kind,
          req.body.intervalSeconds ?? before.intervalSeconds,
          req.body.timeoutMs ?? before.timeoutMs,
          req.body.retries ?? before.retries,
        );
        const m = await updateMonitor(ctx.db, ws, req.params.id, req.body, ctx.now());
        await reload();
        return monitorJson(m);
      },
    );
    app.delete(
      "/monitors/:id",
      {
        schema: {
          operationId: "deleteMonitor",
          summary: "Delete a monitor and its results",
          tags,
          params: Params,
        },
        preHandler: ctx.auth("monitors:write"),
      },
      async (req, reply) => {
        await deleteMonitor(ctx.db, principal(req).workspaceId, req.params.id);
        await reload();
        return reply.code(204).send();
      },
    );
    app.get(
      "/monitors/:id/results",
      {
        schema: {
          operationId: "listMonitorResults",
          tags,
          summary: "Check results: raw (7 days) or rolled up per hour or day",
          params: Params,
          querystring: ResultsQuery,
        },
        preHandler: ctx.auth("read"),
      },
      async (req) => {
        const ws = principal(req).workspaceId;
        const m = await getMonitor(ctx.db, ws, req.params.id);
        const q = req.query;
        const to = q.to ?? new Date(ctx.now().getTime() + 1);
        const from =
          q.from ??
          new Date(
            to.getTime() - (q.resolution === "day" ? 90 : q.resolution === "hour" ? 7 : 1) * 86_400_000,
          );
        if (from >= to) throw invalidField("from", "must be before to");
        if (q.resolution === "raw") {
          const rows = await ctx.database.query<{
            at: Date;
            ok: boolean;
            latency_ms: number | null;
            location: string;
            error: string | null;
          }>(
            `select at, ok, latency_ms, location, error from monitor_results
              where workspace_id = $1 and monitor_id = $2 and at >= $3 and at < $4 order by at desc limit $5`,
            [ws, m.id, from.toISOString(), to.toISOString(), q.limit],
          );
          return {
            items: rows.reverse().map((r) => ({
              at: new Date(r.at).toISOString(),
              ok: r.ok,
              latencyMs: r.latency_ms,
              location: r.location,
              ...(r.error && { error: r.error }),
            })),
          };
        }
        const list = await rollups(ctx.database, ws, m.id, q.resolution, from, to);
        return {
          /** share of checks that passed over [from, to), 0–100 to two decimals (floored): the SLA figure */
          uptimePercent: Math.floor(uptimeOf(list) * 10_000) / 100,
          items: list.map((r) => ({
            at: r.at.toISOString(),
            checks: r.checks,
            failures: r.failures,
            latencyP50Ms: r.latencyP50Ms,
            latencyP95Ms: r.latencyP95Ms,
          })),
        };
      },
    );

    app.get(
      "/monitors/:id/signal",
      {
        schema: {
          operationId: "getMonitorSignal",
          tags,
          summary: "A signal monitor's observed and expected counts over time, as its checks judge them",
          params: Params,
          querystring: z.strictObject({
            from: Instant.optional(),
            to: Instant.optional(),
            points: z.coerce.number().int().min(2).max(200).default(96),
          }),
          response: {
            200: z.object({
              windowMinutes: z.number(),
              direction: z.enum(["drop", "spike"]),
              measure: z.enum(["events", "customers"]),
              items: z.array(
                z.object({
                  at: InstantOut,
                  observed: z.number(),
                  expected: z.number(),
                  confidence: z.number(),
                  verdict: z.enum(["ok", "failing", "learning"]),
                }),
              ),
            }),
          },
        },
        preHandler: ctx.auth("read"),
      },
      async (req) => {
        const ws = principal(req).workspaceId;
        const m = await getMonitor(ctx.db, ws, req.params.id);
        if (m.kind !== "signal") throw invalidField("id", "not a signal monitor");
        const to = req.query.to ?? ctx.now();
        const from = req.query.from ?? new Date(to.getTime() - 86_400_000);
        if (from >= to) throw invalidField("from", "must be before to");
        if (to.getTime() - from.getTime() > 31 * 86_400_000)
          throw invalidField("from", "at most 31 days before to");
        return signalSeries(ctx.database, m, from, to, req.query.points);
      },
    );

    app.get(
      "/probes",
      {
        schema: { operationId: "listProbes", tags, summary: "Registered probes" },
        preHandler: ctx.auth("read"),
      },
      async (req) => ({
        items: (await listProbes(ctx.db, principal(req).workspaceId)).map((p) => ({
          id: p.id,
          name: p.name,
          location: p.location,
          createdAt: iso(p.createdAt),
          lastSeenAt: iso(p.lastSeenAt),
        })),
      }),
    );
    app.post(
      "/probes",
      {
        schema: {
          operationId: "registerProbe",
          tags,
          summary: "Register a probe (`amends probe` elsewhere); its token is shown once",
          body: z.strictObject({ name: Name, location: Id.describe("e.g. eu-west, us-east") }),
        },
        preHandler: ctx.auth("monitors:write"),
      },
      async (req, reply) => {
        const ws = principal(req).workspaceId;
        if (req.body.location === defaultLocation())
          throw invalidField("location", `"${req.body.location}" is the server's own location`);
        const { probe, token } = await createProbe(ctx.db, ws, req.body, ctx.now());
        return reply.code(201).send({
          probe: {
            id: probe.id,
            name: probe.name,
            location: probe.location,
            createdAt: iso(probe.createdAt),
          },
          token,
        });
      },
    );

    // The probe's own endpoints: its token, not an API token.
    const probeAuth = async (req: { headers: Record<string, unknown>; probe?: Probe }) => {
      const m = /^Bearer\s+(\S+)$/i.exec(String(req.headers.authorization ?? ""));
      const probe = m ? await findProbe(ctx.db, m[1]!, ctx.now()) : undefined;
      if (!probe) throw new AmendsError("UNAUTHENTICATED", "send `Authorization: Bearer <probe token>`");
      req.probe = probe;
    };
    app.get(
      "/probe/assignments",
      {
        schema: { operationId: "getProbeAssignments", tags, summary: "For probes: the monitors to check" },
        onRequest: probeAuth,
      },
      async (req) => {
        const probe = req.probe!;
        const list = await activeMonitors(ctx.db, probe.workspaceId);
        return {
          location: probe.location,
          monitors: list
            .filter((m) => m.kind !== "heartbeat" && m.kind !== "signal")
            .map((m) => ({
              id: m.id,
              kind: m.kind,
              target: m.target,
              intervalSeconds: m.intervalSeconds,
              timeoutMs: m.timeoutMs,
              retries: m.retries,
              assertions: m.assertions,
            })),
        };
      },
    );
    app.post(
      "/probe/results",
      {
        schema: {
          operationId: "postProbeResults",
          tags,
          summary: "For probes: results of checks",
          body: ProbeResults,
        },
        // Before the body is parsed: a caller without a probe token learns nothing of the input.
        onRequest: probeAuth,
      },
      async (req, reply) => {
        const probe = req.probe!;
        const ws = probe.workspaceId;
        const known = new Map((await activeMonitors(ctx.db, ws)).map((m) => [m.id, m.state as string]));
        const results = req.body.results;
        const latest = ctx.now().getTime() + 5 * 60_000;
        results.forEach((r, i) => {
          if (!known.has(r.monitorId))
            throw unknownReference(`results.${i}.monitorId`, "active monitor", r.monitorId);
          // A probe whose clock runs ahead would otherwise push a monitor's last check into the future.
          if (r.at.getTime() > latest)
            throw invalidField(`results.${i}.at`, "is in the future; check the probe's clock");
        });
        await recordResults(
          ctx.database,
          results.map((r) => ({
            workspaceId: ws,
            monitorId: r.monitorId,
            at: r.at,
            location: probe.location,
            ok: r.ok,
            latencyMs: r.latencyMs,
            error: r.error ?? null,
          })),
        );
        await judge(ws, results, known);
        return reply.code(202).send({ accepted: results.length });
      },
    );
  };

/** The public heartbeat URL: the company's job calls it; silence past the grace means down. */
export const heartbeatRoutes =
  (ctx: ApiContext, options: MonitorRouteOptions): FastifyPluginAsyncZod =>
  async (app) => {
    const auto: AutomationOptions = { ...options, now: ctx.now };
    const handler = async (req: { params: { token: string } }) => {
      const m = await findHeartbeatMonitor(ctx.db, req.params.token);
      if (!m) throw new AmendsError("NOT_FOUND", "no heartbeat monitor has this URL");
      const now = ctx.now();
      await touchHeartbeat(ctx.db, m, now);
      if (m.state !== "paused") {
        await recordResults(ctx.database, [
          {
            workspaceId: m.workspaceId,
            monitorId: m.id,
            at: now,
            location: defaultLocation(),
            ok: true,
            latencyMs: null,
          },
        ]);
        if (m.state !== "up") {
          await evaluateMonitor(ctx.database, m.workspaceId, m.id, auto);
          ctx.changed(m.workspaceId);
        }
      }
      return { ok: true, monitor: m.id, at: now.toISOString() };
    };
    const schema = { hide: true, params: z.object({ token: z.string().max(200) }) };
    app.get("/hooks/heartbeat/:token", { schema }, handler);
    app.post("/hooks/heartbeat/:token", { schema }, handler);
  };
