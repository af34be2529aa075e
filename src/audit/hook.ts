/**
 * One hook records every successful change made through /api/v1 by an authenticated caller:
 * the action is named after the route (`incident.create`, `compensation-run.approve`), "before"
 * is what the entity's GET route answered just before the handler ran, "after" is the response.
 * The row is written before the response leaves, so a client that saw 2xx finds it in the log.
 * (Not in the change's own transaction: the stores commit on their own; a crash between the two
 * loses the row, never the change. Routes that sign people in record themselves.)
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Db } from "../storage/database.ts";
import { recordAudit } from "./store.ts";

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const PREFIX = "/api/v1";

/** Names nicer than the mechanical ones. */
const ACTION_NAMES: Record<string, string> = {
  "POST /incidents/:id/updates": "incident.update",
  "POST /incidents/:id/compensation-runs": "compensation-run.preview",
  "POST /compensation/preview": "compensation-run.preview",
  "POST /import/:kind": "import.:kind",
};
const VERB: Record<string, string> = { POST: "create", PUT: "update", PATCH: "update", DELETE: "delete" };

const singular = (s: string) =>
  s.endsWith("ies") ? `${s.slice(0, -3)}y` : s.endsWith("s") && !s.endsWith("ss") ? s.slice(0, -1) : s;

export function actionOf(method: string, url: string): { action: string; targetType: string } {
  const path = url.slice(PREFIX.length);
  const segments = path.split("/").filter(Boolean);
  const statics = segments.filter((s) => !s.startsWith(":"));
  const targetType = singular(statics[0] ?? "workspace");
  const named = ACTION_NAMES[`${method} ${path}`];
  if (named) return { action: named, targetType };
  const rest = statics.slice(1).map((s) => s.replace(/\.[a-z]+$/, ""));
  return { action: `${targetType}.${rest.length ? rest.join(".") : VERB[method]}`, targetType };
}

interface Pending {
  before: unknown;
  after?: unknown;
}
declare module "fastify" {
  interface FastifyRequest {
    audit?: Pending;
  }
}

export function installAuditHook(app: FastifyInstance, db: Db, now: () => Date): void {
  const getRoutes = new Set<string>();
  app.addHook("onRoute", (route) => {
    for (const m of Array.isArray(route.method) ? route.method : [route.method])
      if (m === "GET") getRoutes.add(route.url);
  });
  /** The GET route that shows what this write changes: the URL itself (not for POST), or its part up to the last id. */
  const beforeUrl = (req: FastifyRequest): string | undefined => {
    const pattern = req.routeOptions.url ?? "";
    // POST to a collection creates: nothing was there before (its GET is the whole list).
    const candidates = req.method === "POST" ? [] : [pattern];
    const cut = pattern.lastIndexOf("/:");
    if (cut >= 0) {
      const end = pattern.indexOf("/", cut + 1);
      if (end > 0) candidates.push(pattern.slice(0, end));
    }
    const found = candidates.find((c) => getRoutes.has(c));
    if (!found) return undefined;
    const params = req.params as Record<string, string>;
    return found.replace(/:([A-Za-z_]+)/g, (_, k: string) => encodeURIComponent(params[k] ?? ""));
  };
  const audited = (req: FastifyRequest) =>
    UNSAFE.has(req.method) && req.principal && (req.routeOptions.url ?? "").startsWith(`${PREFIX}/`);

  app.addHook("preHandler", async (req) => {
    if (!audited(req)) return;
    const url = beforeUrl(req);
    let before: unknown = null;
    if (url) {
      const headers: Record<string, string> = {};
      for (const h of ["authorization", "cookie", "x-amends-workspace"]) {
        const v = req.headers[h];
        if (typeof v === "string") headers[h] = v;
      }
      const res = await app.inject({ method: "GET", url, headers });
      if (res.statusCode === 200 && /json/.test(String(res.headers["content-type"]))) before = res.json();
    }
    req.audit = { before };
  });

  app.addHook("onSend", async (req, reply, payload) => {
    if (!req.audit || reply.statusCode >= 400 || !req.principal) return payload;
    let after: unknown = null;
    if (typeof payload === "string" && /json/.test(String(reply.getHeader("content-type")))) {
      try {
        after = JSON.parse(payload);
      } catch {
        after = null;
      }
    }
    const params = req.params as Record<string, string>;
    const named = actionOf(req.method, req.routeOptions.url ?? "");
    const action = named.action.replace(/:([A-Za-z_]+)/g, (_, k: string) => params[k] ?? k);
    const { targetType } = named;
    const hasParam = (req.routeOptions.url ?? "").includes("/:");
    const responseId =
      after && typeof after === "object" && "id" in after ? String((after as { id: unknown }).id) : null;
    const p = req.principal;
    await recordAudit(db, {
      workspaceId: p.workspaceId,
      actor: p.actor,
      action,
      target: { type: targetType, id: hasParam ? (Object.values(params)[0] ?? null) : responseId },
      before: req.audit.before,
      after,
      ip: req.ip,
      at: now(),
    });
    return payload;
  });
}
