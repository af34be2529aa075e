/**
 * Every route that calls `ctx.auth(scope)` is listed here as it is registered, and its check is
 * moved from preHandler to onRequest: it then runs before the body is parsed and validated, so
 * a caller without rights gets 401/403 rather than a 400 describing the route's input. The list
 * is what the security tests walk: a new route is covered the moment it exists.
 */
import type { FastifyInstance, onRequestHookHandler, RouteOptions } from "fastify";
import type { Scope } from "../tokens/store.ts";
import { AUTH_SCOPE, type AuthHook } from "./auth.ts";

export interface GuardedRoute {
  method: string;
  url: string;
  /** null for public routes (no token needed) */
  scope: Scope | null;
}

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

export function installGuards(app: FastifyInstance): GuardedRoute[] {
  const table: GuardedRoute[] = [];
  app.addHook("onRoute", (route: RouteOptions) => {
    const pre = asArray(route.preHandler) as AuthHook[];
    const auth = pre.filter((h) => h[AUTH_SCOPE] !== undefined);
    if (auth.length > 0) {
      route.preHandler = pre.filter((h) => h[AUTH_SCOPE] === undefined);
      route.onRequest = [...asArray(route.onRequest), ...(auth as unknown as onRequestHookHandler[])];
    }
    for (const method of asArray(route.method))
      table.push({ method, url: route.url, scope: auth[0]?.[AUTH_SCOPE] ?? null });
  });
  return table;
}
