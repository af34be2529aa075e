/**
 * THROWAWAY STAND-IN, test support only: the access endpoints (session, setup, users, TOTP,
 * audit, four eyes) and the monitors/protocols endpoints, as the shared contracts describe
 * them, until those branches land. Delete this file (and its one use in console-app.ts) at
 * merge: the real endpoints take over and test/console-browser.test.ts runs unchanged.
 *
 * How it fakes auth for the routes that exist: each user gets a real API token with the
 * scopes of the user's role; a request carrying the session cookie (and, when unsafe, the
 * CSRF header) is given that token as its Authorization header before routing.
 */
import { randomBytes, randomUUID, scryptSync, timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { generateSecret, generateURI, verify } from "otplib";
import { getRun } from "../../src/compensation/runs.ts";
import type { Database } from "../../src/storage/database.ts";
import { createToken, type Scope } from "../../src/tokens/store.ts";

const ROLE_SCOPES: Record<string, string[]> = {
  owner: ["*"],
  admin: ["*"],
  responder: [
    "read",
    "components:write",
    "incidents:write",
    "notifications:write",
    "protocols:start",
    "monitors:write",
  ],
  support: ["read", "notifications:write"],
  finance: ["read", "compensation:write", "compensation:approve", "audit:read"],
  viewer: ["read"],
};

interface StubUser {
  id: string;
  email: string;
  name: string;
  role: string;
  locale: string;
  disabled: boolean;
  salt: Buffer;
  hash: Buffer;
  totpSecret?: string;
  totpPending?: string;
  tokenId: string;
  tokenSecret: string;
}

const hashPassword = (password: string, salt: Buffer) => scryptSync(password, salt, 32);
const problem = (reply: FastifyReply, status: number, code: string, detail: string, errors?: unknown[]) =>
  reply
    .code(status)
    .type("application/problem+json")
    .send({ type: `urn:amends:problem:${code.toLowerCase()}`, title: code, status, code, detail, errors });

export interface ConsoleStub {
  /** The first-run link `npm start` would print. */
  setupToken: string;
}

export function installConsoleStub(
  app: FastifyInstance,
  database: Database,
  workspaceId: string,
): ConsoleStub {
  const setupToken = randomBytes(16).toString("base64url");
  let setupUsed = false;
  const users = new Map<string, StubUser>();
  const sessions = new Map<string, { userId: string; csrf: string }>();
  const audit: any[] = [];
  const protocols = new Map<string, Record<string, unknown>>();
  const monitors = new Map<string, Record<string, unknown>>();

  const sessionOf = (req: FastifyRequest) => {
    const sid = /(?:^|;\s*)amends_session=([^;]+)/.exec(req.headers.cookie ?? "")?.[1];
    const s = sid ? sessions.get(sid) : undefined;
    const user = s ? users.get(s.userId) : undefined;
    return s && user && !user.disabled ? { sid: sid!, ...s, user } : undefined;
  };
  const body = (u: StubUser, csrf: string) => ({
    user: {
      id: u.id,
      email: u.email,
      name: u.name,
      role: u.role,
      locale: u.locale,
      totpEnabled: !!u.totpSecret,
    },
    permissions: ROLE_SCOPES[u.role] ?? [],
    csrfToken: csrf,
    workspace: { id: workspaceId, name: "The Fleet" },
  });
  const addUser = async (input: { email: string; name: string; role: string; password: string }) => {
    const salt = randomBytes(16);
    const { token, secret } = await createToken(database.db, {
      workspaceId,
      name: `user ${input.email}`,
      scopes: (ROLE_SCOPES[input.role] ?? ["read"]) as Scope[],
    });
    const u: StubUser = {
      id: `usr_${randomUUID().slice(0, 8)}`,
      email: input.email.toLowerCase(),
      name: input.name,
      role: input.role,
      locale: "en",
      disabled: false,
      salt,
      hash: hashPassword(input.password, salt),
      tokenId: token.id,
      tokenSecret: secret,
    };
    users.set(u.id, u);
    return u;
  };
  const publicUser = (u: StubUser) => body(u, "").user;

  // Cookie → the user's token, after the CSRF check; four eyes on approvals.
  app.addHook("onRequest", async (req, reply) => {
    if (!req.url.startsWith("/api/v1/") || req.headers.authorization) return;
    const s = sessionOf(req);
    if (!s) return;
    if (!["GET", "HEAD", "OPTIONS"].includes(req.method) && req.headers["x-csrf-token"] !== s.csrf)
      return problem(reply, 403, "FORBIDDEN", "missing or wrong x-csrf-token header");
    (req as any).stubUser = s.user;
    req.headers.authorization = `Bearer ${s.user.tokenSecret}`;
    const approve = /^\/api\/v1\/compensation-runs\/([^/]+)\/approve$/.exec(req.url);
    if (approve && req.method === "POST") {
      if (!["finance", "owner"].includes(s.user.role))
        return problem(reply, 403, "FOUR_EYES", "approving needs the finance role");
      const run = await getRun(database.db, workspaceId, decodeURIComponent(approve[1]!)).catch(
        () => undefined,
      );
      if (run?.createdBy === `token:${s.user.tokenId}`)
        return problem(reply, 403, "FOUR_EYES", "the person who previewed a run cannot approve it");
    }
  });
  // The audit log: every successful change.
  app.addHook("onResponse", async (req, reply) => {
    if (!req.url.startsWith("/api/v1/") || ["GET", "HEAD"].includes(req.method) || reply.statusCode >= 400)
      return;
    const u = (req as any).stubUser as StubUser | undefined;
    const path = req.url.split("?")[0]!.replace("/api/v1/", "");
    const [type, id, verb] = path.split("/");
    audit.unshift({
      id: `aud_${audit.length + 1}`,
      at: new Date().toISOString(),
      actor: u ? { kind: "user", id: u.id, name: u.name } : { kind: "token", id: "?", name: "token" },
      action: `${type?.replace(/s$/, "")}.${verb ?? (req.method === "POST" ? "create" : req.method.toLowerCase())}`,
      target: { type: type ?? "", id: id ?? "" },
      before: null,
      after: null,
      ip: req.ip,
    });
  });

  app.register(
    async (api) => {
      api.post("/setup", async (req, reply) => {
        const b = req.body as any;
        if (setupUsed || b?.token !== setupToken)
          return problem(reply, 403, "FORBIDDEN", "this link was used or is wrong");
        setupUsed = true;
        const u = await addUser({ email: b.email, name: b.name, password: b.password, role: "owner" });
        return reply.code(201).send({ user: publicUser(u) });
      });
      api.post("/session", async (req, reply) => {
        const b = req.body as any;
        const u = [...users.values()].find((x) => x.email === String(b?.email).toLowerCase());
        const ok = u && !u.disabled && timingSafeEqual(hashPassword(String(b?.password), u.salt), u.hash);
        if (!ok) return problem(reply, 401, "UNAUTHENTICATED", "wrong e-mail or password");
        if (u.totpSecret) {
          const valid = b.totp && (await verify({ secret: u.totpSecret, token: String(b.totp) })).valid;
          if (!valid)
            return problem(reply, 401, "UNAUTHENTICATED", "the code is missing or wrong", [
              { field: "totp", message: "enter the code from your authenticator app" },
            ]);
        }
        const sid = randomBytes(24).toString("base64url");
        const csrf = randomBytes(24).toString("base64url");
        sessions.set(sid, { userId: u.id, csrf });
        reply.header("set-cookie", `amends_session=${sid}; HttpOnly; SameSite=Strict; Path=/`);
        return body(u, csrf);
      });
      api.get("/session", async (req, reply) => {
        const s = sessionOf(req);
        return s ? body(s.user, s.csrf) : problem(reply, 401, "UNAUTHENTICATED", "not signed in");
      });
      api.delete("/session", async (req, reply) => {
        const s = sessionOf(req);
        if (s) sessions.delete(s.sid);
        reply.header("set-cookie", "amends_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
        return reply.code(204).send();
      });
      const me = (req: FastifyRequest, reply: FastifyReply) => {
        const u = (req as any).stubUser as StubUser | undefined;
        if (!u) problem(reply, 401, "UNAUTHENTICATED", "not signed in");
        return u;
      };
      api.post("/me/totp", async (req, reply) => {
        const u = me(req, reply);
        if (!u) return;
        u.totpPending = generateSecret();
        return {
          secret: u.totpPending,
          otpauthUrl: generateURI({ issuer: "Amends", label: u.email, secret: u.totpPending }),
        };
      });
      api.post("/me/totp/confirm", async (req, reply) => {
        const u = me(req, reply);
        if (!u) return;
        const code = String((req.body as any)?.code ?? "");
        if (!u.totpPending || !(await verify({ secret: u.totpPending, token: code })).valid)
          return problem(reply, 422, "VALIDATION_FAILED", "wrong code", [
            { field: "code", message: "wrong code" },
          ]);
        u.totpSecret = u.totpPending;
        u.totpPending = undefined;
        return reply.code(204).send();
      });
      const needs = (req: FastifyRequest, reply: FastifyReply, scope: string) => {
        const u = me(req, reply);
        if (!u) return undefined;
        const scopes = ROLE_SCOPES[u.role] ?? [];
        if (scopes.includes("*") || scopes.includes(scope)) return u;
        problem(reply, 403, "FORBIDDEN", `your role lacks "${scope}"`);
        return undefined;
      };
      api.get(
        "/users",
        async (req, reply) =>
          needs(req, reply, "users:write") && { users: [...users.values()].map(publicUser) },
      );
      api.post("/users", async (req, reply) => {
        if (!needs(req, reply, "users:write")) return;
        const b = req.body as any;
        const u = await addUser({
          email: b.email,
          name: b.name,
          role: b.role,
          password: b.password ?? randomUUID(),
        });
        return reply.code(201).send({
          user: publicUser(u),
          ...(!b.password && { inviteUrl: `/admin/invite?token=${randomUUID()}` }),
        });
      });
      api.patch("/users/:id", async (req, reply) => {
        if (!needs(req, reply, "users:write")) return;
        const u = users.get((req.params as any).id);
        if (!u) return problem(reply, 404, "NOT_FOUND", "no such user");
        Object.assign(u, req.body);
        return { user: publicUser(u) };
      });
      api.get("/audit", async (req, reply) => {
        if (!needs(req, reply, "audit:read")) return;
        const q = req.query as Record<string, string>;
        const items = audit.filter(
          (e) =>
            (!q.action || e.action.includes(q.action)) &&
            (!q.actor || e.actor.name.includes(q.actor) || e.actor.id === q.actor) &&
            (!q.q || JSON.stringify(e).includes(q.q)),
        );
        return { items: items.slice(0, Number(q.limit ?? 50)), nextCursor: null };
      });

      api.put("/protocols/:name", async (req) => {
        const name = (req.params as any).name;
        protocols.set(name, { name, ...(req.body as object) });
        return protocols.get(name);
      });
      api.get("/protocols", async () => ({ protocols: [...protocols.values()] }));
      api.post("/protocols/:name/start", async (req, reply) => {
        const u = needs(req, reply, "protocols:start");
        if (!u) return;
        const p = protocols.get((req.params as any).name) as any;
        if (!p) return problem(reply, 404, "NOT_FOUND", "no such protocol");
        const res = await app.inject({
          method: "POST",
          url: "/api/v1/incidents",
          headers: { authorization: `Bearer ${u.tokenSecret}` },
          payload: {
            title: p.title,
            body: p.body,
            components: p.components,
            ...(p.translations && { translations: p.translations }),
          },
        });
        const estimate = await app.inject({
          method: "POST",
          url: "/api/v1/notification-estimate",
          headers: { authorization: `Bearer ${u.tokenSecret}` },
          payload: { components: (p.components ?? []).map((x: { id: string }) => x.id), title: p.title },
        });
        return reply.code(201).send({ incident: res.json(), estimate: estimate.json() });
      });
      api.post("/monitors", async (req, reply) => {
        const id = `mon_${monitors.size + 1}`;
        monitors.set(id, {
          id,
          state: "up",
          lastCheckAt: new Date().toISOString(),
          lastLatencyMs: 42,
          componentIds: [],
          ...(req.body as object),
        });
        return reply.code(201).send(monitors.get(id));
      });
      api.get("/monitors", async () => ({ monitors: [...monitors.values()] }));
      api.get("/monitors/:id/results", async (req) => {
        const hourly = (req.query as any).resolution !== "raw";
        const now = Date.now();
        return {
          items: Array.from({ length: 24 }, (_, i) => {
            const at = new Date(now - (24 - i) * 3_600_000).toISOString();
            const p50 = 40 + ((i * 7) % 23);
            return hourly
              ? { at, checks: 60, failures: i === 17 ? 3 : 0, latencyP50Ms: p50, latencyP95Ms: p50 + 35 }
              : { at, ok: i !== 17, latencyMs: p50, location: "local" };
          }),
        };
      });
    },
    { prefix: "/api/v1" },
  );
  return { setupToken };
}
