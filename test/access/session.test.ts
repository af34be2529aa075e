/**
 * Signing in through the real API: password and TOTP, the cookie's attributes, CSRF, session
 * fixation, sign-out, idle expiry, the login rate limit, invitations and the first-run setup.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { totpCode } from "../../src/access/totp.ts";
import { createOneTimeToken, createUser } from "../../src/access/users.ts";
import { buildServer } from "../../src/http/server.ts";
import { startTestApp, type TestApp } from "../support/app.ts";
import { BACKENDS, freshDatabase } from "../support/backends.ts";
import { addPerson, as, login, sessionCookie } from "./helpers.ts";

describe.each(BACKENDS)("sessions on %s", (backend) => {
  let t: TestApp;
  let clock = Date.now();
  beforeAll(async () => {
    t = await startTestApp(backend, { now: () => new Date(clock) });
  });
  afterAll(() => t.close());

  it("signs in with a password, sets a strict HttpOnly cookie and answers who is signed in", async () => {
    await createUser(
      t.database.db,
      {
        workspaceId: t.workspaceId,
        email: "Ada@Fleet.example",
        name: "Ada",
        role: "responder",
        password: "a long password",
      },
      new Date(clock),
    );
    const wrong = await t.app.inject({
      method: "POST",
      url: "/api/v1/session",
      payload: { email: "ada@fleet.example", password: "not it at all" },
    });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().code).toBe("UNAUTHENTICATED");
    expect(sessionCookie(wrong.headers)).toBeUndefined();
    const unknown = await t.app.inject({
      method: "POST",
      url: "/api/v1/session",
      payload: { email: "nobody@fleet.example", password: "a long password" },
    });
    expect(unknown.statusCode).toBe(401);

    const res = await t.app.inject({
      method: "POST",
      url: "/api/v1/session",
      payload: { email: "ADA@fleet.example", password: "a long password" },
    });
    expect(res.statusCode, res.body).toBe(200);
    const setCookie = String(res.headers["set-cookie"]);
    expect(setCookie).toMatch(/^amends_session=[\w-]{40,};/);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).toMatch(/Path=\//);
    expect(setCookie).not.toMatch(/Secure/); // plain http here; https requests get Secure
    const body = res.json();
    expect(body.user).toMatchObject({
      email: "ada@fleet.example",
      name: "Ada",
      role: "responder",
      totpEnabled: false,
    });
    expect(body.permissions).toContain("incidents:write");
    expect(body.permissions).not.toContain("compensation:approve");
    expect(body.workspace).toEqual({ id: t.workspaceId, name: "The Fleet" });
    const me = await as(
      t.app,
      { cookie: sessionCookie(res.headers)!, csrf: body.csrfToken },
      "GET",
      "/api/v1/session",
    );
    expect(me.status).toBe(200);
    expect(me.json).toEqual(body);
  });

  it("enrols TOTP, then needs a fresh code to sign in and never accepts one twice", async () => {
    const p = await addPerson(t.app, t.database, t.workspaceId, "finance", "totp");
    const start = await as(t.app, p, "POST", "/api/v1/me/totp");
    expect(start.status).toBe(200);
    expect(start.json.otpauthUrl).toMatch(/^otpauth:\/\/totp\/.*secret=/);
    const bad = await as(t.app, p, "POST", "/api/v1/me/totp/confirm", { code: "000000" });
    expect(bad.status).toBe(400);
    expect(bad.json.errors[0].field).toBe("code");
    const code = await totpCode(start.json.secret, new Date(clock));
    expect((await as(t.app, p, "POST", "/api/v1/me/totp/confirm", { code })).status).toBe(204);

    const post = (payload: object) => t.app.inject({ method: "POST", url: "/api/v1/session", payload });
    const missing = await post({ email: p.email, password: p.password });
    expect(missing.statusCode).toBe(401);
    expect(missing.json().errors).toEqual([{ field: "totp", message: "required" }]);
    // The code used to confirm is spent: a replay within the same 30 s fails.
    const replay = await post({ email: p.email, password: p.password, totp: code });
    expect(replay.statusCode).toBe(401);
    expect(replay.json().errors[0].field).toBe("totp");
    clock += 30_000;
    const fresh = await totpCode(start.json.secret, new Date(clock));
    const ok = await post({ email: p.email, password: p.password, totp: fresh });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json().user.totpEnabled).toBe(true);
    expect((await post({ email: p.email, password: p.password, totp: fresh })).statusCode).toBe(401);
  });

  it("refuses a cookie-authenticated write without the CSRF token; bearer tokens need none", async () => {
    const p = await addPerson(t.app, t.database, t.workspaceId, "responder", "csrf");
    const component = { id: "csrf-test", name: "CSRF test" };
    const none = await as(t.app, p, "POST", "/api/v1/components", component, { csrf: null });
    expect(none.status).toBe(403);
    expect(none.json.detail).toMatch(/x-csrf-token/);
    const forged = await as(t.app, p, "POST", "/api/v1/components", component, { csrf: "forged" });
    expect(forged.status).toBe(403);
    // Another person's CSRF token does not fit this session.
    const other = await addPerson(t.app, t.database, t.workspaceId, "responder", "other");
    expect((await as(t.app, p, "POST", "/api/v1/components", component, { csrf: other.csrf })).status).toBe(
      403,
    );
    expect((await t.call("GET", "/api/v1/components/csrf-test")).status).toBe(404);
    expect((await as(t.app, p, "POST", "/api/v1/components", component)).status).toBe(201);
    // Reads need no CSRF token.
    expect((await as(t.app, p, "GET", "/api/v1/components", undefined, { csrf: null })).status).toBe(200);
    expect((await t.call("PATCH", "/api/v1/components/csrf-test", { name: "By token" })).status).toBe(200);
  });

  it("never promotes a planted session id (fixation), and signing out ends the session", async () => {
    const p = await addPerson(t.app, t.database, t.workspaceId, "support", "fixation");
    const planted = "amends_session=attacker-chose-this-value-0123456789";
    const res = await t.app.inject({
      method: "POST",
      url: "/api/v1/session",
      headers: { cookie: planted },
      payload: { email: p.email, password: p.password },
    });
    expect(res.statusCode).toBe(200);
    const issued = sessionCookie(res.headers)!;
    expect(issued).not.toBe(planted);
    expect(
      (await as(t.app, { cookie: planted, csrf: res.json().csrfToken }, "GET", "/api/v1/session")).status,
    ).toBe(401);
    expect((await as(t.app, { cookie: issued, csrf: "" }, "GET", "/api/v1/session")).status).toBe(200);

    // Signing in again from a browser that holds a live session replaces it.
    const again = await t.app.inject({
      method: "POST",
      url: "/api/v1/session",
      headers: { cookie: issued },
      payload: { email: p.email, password: p.password },
    });
    const second = sessionCookie(again.headers)!;
    expect(second).not.toBe(issued);
    expect((await as(t.app, { cookie: issued, csrf: "" }, "GET", "/api/v1/session")).status).toBe(401);

    const who = { cookie: second, csrf: again.json().csrfToken };
    expect((await as(t.app, who, "DELETE", "/api/v1/session", undefined, { csrf: null })).status).toBe(403);
    const out = await as(t.app, who, "DELETE", "/api/v1/session");
    expect(out.status).toBe(204);
    expect(String(out.headers["set-cookie"])).toMatch(/amends_session=;.*Expires=Thu, 01 Jan 1970/);
    expect((await as(t.app, who, "GET", "/api/v1/session")).status).toBe(401);
    expect((await as(t.app, who, "GET", "/api/v1/incidents")).status).toBe(401);
  });

  it("ends a session left idle, one 12 hours old, and one whose user is disabled", async () => {
    const p = await addPerson(t.app, t.database, t.workspaceId, "viewer", "idle");
    clock += 3 * 3_600_000;
    expect((await as(t.app, p, "GET", "/api/v1/session")).status).toBe(401);
    // Active all along, a session still ends 12 hours after sign-in.
    const busy = await addPerson(t.app, t.database, t.workspaceId, "viewer", "busy");
    for (let hour = 1.5; hour < 12; hour += 1.5) {
      clock += 90 * 60_000;
      expect((await as(t.app, busy, "GET", "/api/v1/session")).status, `after ${hour} h`).toBe(200);
    }
    clock += 90 * 60_000;
    expect((await as(t.app, busy, "GET", "/api/v1/session")).status).toBe(401);
    const q = await addPerson(t.app, t.database, t.workspaceId, "viewer", "disabled");
    const admin = await addPerson(t.app, t.database, t.workspaceId, "admin", "admin");
    expect((await as(t.app, admin, "PATCH", `/api/v1/users/${q.id}`, { disabled: true })).status).toBe(200);
    expect((await as(t.app, q, "GET", "/api/v1/session")).status).toBe(401);
    const res = await t.app.inject({
      method: "POST",
      url: "/api/v1/session",
      payload: { email: q.email, password: q.password },
    });
    expect(res.statusCode).toBe(401);
  });

  it("invites a person with a one-time link; roles can only be granted by someone who holds them", async () => {
    const admin = await addPerson(t.app, t.database, t.workspaceId, "admin", "inviter");
    const owner = await as(t.app, admin, "POST", "/api/v1/users", {
      email: "o@fleet.example",
      name: "O",
      role: "owner",
    });
    expect(owner.status).toBe(403);
    expect(owner.json.errors[0].field).toBe("role");
    const invited = await as(t.app, admin, "POST", "/api/v1/users", {
      email: "Grace@Fleet.example",
      name: "Grace",
      role: "support",
    });
    expect(invited.status, JSON.stringify(invited.json)).toBe(201);
    expect(invited.json.inviteUrl).toMatch(/\/admin\/invite\?token=[\w-]{40,}$/);
    const token = new URL(invited.json.inviteUrl).searchParams.get("token");
    const weak = await t.app.inject({
      method: "POST",
      url: "/api/v1/invites/accept",
      payload: { token, password: "short" },
    });
    expect(weak.statusCode).toBe(400);
    expect(weak.json().errors[0].field).toBe("password");
    const accept = await t.app.inject({
      method: "POST",
      url: "/api/v1/invites/accept",
      payload: { token, password: "grace's long password" },
    });
    expect(accept.statusCode, accept.body).toBe(200);
    expect(accept.json().user.email).toBe("grace@fleet.example");
    const twice = await t.app.inject({
      method: "POST",
      url: "/api/v1/invites/accept",
      payload: { token, password: "grace's long password" },
    });
    expect(twice.statusCode).toBe(401);
    await login(t.app, "grace@fleet.example", "grace's long password");
    const list = (await as(t.app, admin, "GET", "/api/v1/users")).json.users;
    expect(list.find((u: any) => u.email === "grace@fleet.example")).toMatchObject({
      name: "Grace",
      role: "support",
      totpEnabled: false,
      disabled: false,
    });
    expect(JSON.stringify(list)).not.toMatch(/scrypt|password/i);

    // A responder's token cannot carry the scope to approve money.
    const responder = await addPerson(t.app, t.database, t.workspaceId, "responder", "minter");
    expect(
      (await as(t.app, responder, "POST", "/api/v1/tokens", { name: "x", scopes: ["compensation:approve"] }))
        .status,
    ).toBe(403);
    const admins = await as(t.app, admin, "POST", "/api/v1/tokens", {
      name: "ci",
      scopes: ["incidents:write"],
    });
    expect(admins.status).toBe(201);
  });

  it("changes one's password: the current one is checked, other sessions end", async () => {
    const p = await addPerson(t.app, t.database, t.workspaceId, "support", "changer");
    const elsewhere = await login(t.app, p.email, p.password);
    const wrong = await as(t.app, p, "POST", "/api/v1/me/password", {
      current: "nope",
      next: "a brand new password",
    });
    expect(wrong.status).toBe(400);
    expect(wrong.json.errors[0].field).toBe("current");
    const short = await as(t.app, p, "POST", "/api/v1/me/password", { current: p.password, next: "short" });
    expect(short.json.errors[0].field).toBe("next");
    expect(
      (
        await as(t.app, p, "POST", "/api/v1/me/password", {
          current: p.password,
          next: "a brand new password",
        })
      ).status,
    ).toBe(204);
    expect((await as(t.app, p, "GET", "/api/v1/session")).status).toBe(200);
    expect((await as(t.app, elsewhere, "GET", "/api/v1/session")).status).toBe(401);
    await login(t.app, p.email, "a brand new password");
    // An API token has no account of its own.
    expect((await t.call("POST", "/api/v1/me/totp")).status).toBe(403);
  });

  it("keeps the last owner", async () => {
    const owner = await addPerson(t.app, t.database, t.workspaceId, "owner", "solo");
    const res = await as(t.app, owner, "PATCH", `/api/v1/users/${owner.id}`, { role: "admin" });
    expect(res.status).toBe(409);
    expect(res.json.errors[0].field).toBe("role");
    const admin = await addPerson(t.app, t.database, t.workspaceId, "admin", "usurper");
    expect((await as(t.app, admin, "PATCH", `/api/v1/users/${owner.id}`, { disabled: true })).status).toBe(
      403,
    );
  });

  it("rate-limits sign-in attempts", async () => {
    const attempt = () =>
      t.app.inject({
        method: "POST",
        url: "/api/v1/session",
        payload: { email: "target@fleet.example", password: "guess guess guess" },
      });
    const codes: number[] = [];
    for (let i = 0; i < 12; i++) codes.push((await attempt()).statusCode);
    expect(codes.slice(0, 10)).toEqual(Array(10).fill(401));
    const limited = await attempt();
    expect(limited.statusCode).toBe(429);
    expect(limited.json().code).toBe("RATE_LIMITED");
    expect(limited.headers["retry-after"]).toBeDefined();
  });

  it("counts sign-in attempts across app processes on the same database, per window", async () => {
    // A second server on the same database stands for a second app process.
    const other = await buildServer({ database: t.database, now: () => new Date(clock) });
    try {
      const attempt = (app: typeof other) =>
        app.inject({
          method: "POST",
          url: "/api/v1/session",
          payload: { email: "Shared@fleet.example", password: "guess guess guess" },
        });
      const codes: number[] = [];
      for (let i = 0; i < 10; i++) codes.push((await attempt(i % 2 ? other : t.app)).statusCode);
      expect(codes).toEqual(Array(10).fill(401));
      expect((await attempt(other)).statusCode).toBe(429);
      expect((await attempt(t.app)).statusCode).toBe(429);

      clock += 61_000;
      expect((await attempt(other)).statusCode).toBe(401);
      // Ended windows are deleted as attempts come: no address or e-mail is kept past its use.
      const keys = await t.database.query<{ key: string }>("select key from rate_limit_hits");
      expect(keys.some((k) => k.key.includes("target@fleet.example"))).toBe(false);
      expect(keys.filter((k) => k.key.includes("shared@fleet.example"))).toHaveLength(1);
    } finally {
      await other.close();
    }
  });
});

describe.each(BACKENDS)("first run on %s", (backend) => {
  it("creates the owner once from the setup link, on a database with no workspace at all", async () => {
    const database = await freshDatabase(backend);
    const app = await buildServer({ database });
    try {
      const token = await createOneTimeToken(database.db, { kind: "setup" }, new Date());
      const bad = await app.inject({
        method: "POST",
        url: "/api/v1/setup",
        payload: { token: "guessed", email: "me@x.example", name: "Me", password: "owner password" },
      });
      expect(bad.statusCode).toBe(401);
      const res = await app.inject({
        method: "POST",
        url: "/api/v1/setup",
        payload: { token, email: "Me@X.example", name: "Me", password: "owner password" },
      });
      expect(res.statusCode, res.body).toBe(201);
      expect(res.json().user).toMatchObject({ role: "owner", email: "me@x.example" });
      expect(res.json().permissions).toEqual(["*"]);
      expect(sessionCookie(res.headers)).toBeDefined();
      const again = await app.inject({
        method: "POST",
        url: "/api/v1/setup",
        payload: {
          token: await createOneTimeToken(database.db, { kind: "setup" }, new Date()),
          email: "b@x.example",
          name: "B",
          password: "owner password",
        },
      });
      expect(again.statusCode).toBe(409);
    } finally {
      await app.close();
      await database.close();
    }
  });
});
