/**
 * People and access over /api/v1: signing in and out (session cookie + CSRF token), users and
 * their roles, one's own password and TOTP, the first-run owner setup, invitations, and the
 * workspace's four-eyes threshold. The role table is in permissions.ts.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { recordAudit } from "../audit/store.ts";
import { AmendsError, conflict, invalidField } from "../core/errors.ts";
import { type Actor, principal } from "../http/auth.ts";
import type { ApiContext } from "../http/context.ts";
import { createWorkspace, defaultWorkspace, findWorkspace } from "../workspaces/store.ts";
import { OIDC_CALLBACK, OIDC_COOKIE, OidcLogin, type OidcSettings, oidcSettingsFromEnv } from "./oidc.ts";
import { hashPassword, verifyPassword } from "./passwords.ts";
import { isRole, mayGrant, ROLES, type Role, scopesOf } from "./permissions.ts";
import {
  ABSOLUTE_MS,
  csrfMatches,
  csrfTokenOf,
  endOtherSessions,
  endSession,
  findSessionUser,
  SESSION_COOKIE,
  startSession,
} from "./sessions.ts";
import { fourEyesThreshold, setFourEyesThreshold } from "./settings.ts";
import { checkTotp, newTotpSecret, totpUri } from "./totp.ts";
import {
  checkPasswordStrength,
  countUsers,
  createOneTimeToken,
  createUser,
  findUserByEmail,
  findUserBySubject,
  getUserRow,
  linkOidcSubject,
  listUsers,
  otherActiveOwners,
  type UserRow,
  updateUser,
  useOneTimeToken,
  userOf,
} from "./users.ts";

const Email = z.string().trim().toLowerCase().email("an e-mail address").max(254);
const Name = z.string().trim().min(1, "must not be empty").max(200);
const Locale = z.enum(["en", "it", "de", "fr", "es"]);
const Password = z.string().min(1, "required").max(1024);

const UserOut = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  role: z.enum(ROLES),
  locale: z.string(),
  totpEnabled: z.boolean(),
  disabled: z.boolean(),
  createdAt: z.string(),
});
const userJson = (u: UserRow) => {
  const v = userOf(u);
  return {
    id: v.id,
    email: v.email,
    name: v.name,
    role: v.role,
    locale: v.locale,
    totpEnabled: v.totpEnabled,
    disabled: v.disabled,
    createdAt: v.createdAt.toISOString(),
  };
};
const SessionOut = z.object({
  user: z.object({
    id: z.string(),
    email: z.string(),
    name: z.string(),
    role: z.enum(ROLES),
    locale: z.string(),
    totpEnabled: z.boolean(),
  }),
  permissions: z.array(z.string()),
  csrfToken: z.string(),
  workspace: z.object({ id: z.string(), name: z.string() }),
});

export interface AccessOptions {
  /** OpenID Connect sign-in; AMENDS_OIDC_* and AMENDS_PUBLIC_URL from the environment when absent. */
  oidc?: OidcSettings;
  /** Login, setup and invitation attempts per client and e-mail per window. */
  loginLimit?: { max: number; windowMs: number; perClient?: number };
}

export const accessRoutes =
  (ctx: ApiContext, options: AccessOptions = {}): FastifyPluginAsyncZod =>
  async (app) => {
    const tags = ["access"];
    const limit = options.loginLimit ?? {
      max: Number(process.env.AMENDS_LOGIN_MAX ?? 10),
      windowMs: Number(process.env.AMENDS_LOGIN_WINDOW_SECONDS ?? 60) * 1000,
    };
    // Counted per client address and e-mail, after the body is parsed: guessing one account's
    // password, or flooding setup and invitation links, stops after `max` tries per window.
    const rateLimit = {
      max: limit.max,
      timeWindow: limit.windowMs,
      hook: "preHandler" as const,
      keyGenerator: (req: FastifyRequest) =>
        `${req.ip}|${String((req.body as { email?: unknown } | undefined)?.email ?? "").toLowerCase()}`,
      errorResponseBuilder: (_req: FastifyRequest, c: { after: string }) =>
        new AmendsError("RATE_LIMITED", `too many attempts; try again in ${c.after}`),
    };

    // And per client address alone, more loosely: one address trying many e-mails (credential
    // stuffing) stops too. Checked in the handler: the plugin runs one limit per route.
    const perClient = app.createRateLimit({
      max: limit.perClient ?? Number(process.env.AMENDS_LOGIN_MAX_PER_CLIENT ?? limit.max * 10),
      timeWindow: limit.windowMs,
      keyGenerator: (req) => `client:${req.ip}`,
    });
    const clientLimit = async (req: FastifyRequest) => {
      const verdict = await perClient(req);
      if (!verdict.isAllowed && verdict.isExceeded)
        throw new AmendsError(
          "RATE_LIMITED",
          `too many attempts from this address; try again in ${verdict.ttlInSeconds} s`,
        );
    };

    const secure = (req: FastifyRequest) => req.protocol === "https";
    const setSessionCookie = (req: FastifyRequest, reply: FastifyReply, secret: string) =>
      reply.setCookie(SESSION_COOKIE, secret, {
        httpOnly: true,
        sameSite: "strict",
        path: "/",
        secure: secure(req),
        maxAge: Math.floor(ABSOLUTE_MS / 1000),
      });
    const userActor = (u: UserRow): Actor => ({ kind: "user", id: u.id, name: u.name });
    const sessionBody = async (user: UserRow, secret: string) => {
      const ws = await findWorkspace(ctx.db, user.workspaceId);
      const u = userJson(user);
      return {
        user: {
          id: u.id,
          email: u.email,
          name: u.name,
          role: u.role,
          locale: u.locale,
          totpEnabled: u.totpEnabled,
        },
        permissions: scopesOf(user.role as Role),
        csrfToken: csrfTokenOf(secret),
        workspace: { id: user.workspaceId, name: ws?.name ?? "" },
      };
    };
    /** A new session every time: any cookie the browser brought (planted or old) is ended, never promoted. */
    const signIn = async (req: FastifyRequest, reply: FastifyReply, user: UserRow, action: string) => {
      const secret = await startSession(
        ctx.db,
        user,
        { ip: req.ip, userAgent: req.headers["user-agent"], replacing: req.cookies[SESSION_COOKIE] },
        ctx.now(),
      );
      setSessionCookie(req, reply, secret);
      await recordAudit(ctx.db, {
        workspaceId: user.workspaceId,
        actor: userActor(user),
        action,
        target: { type: "user", id: user.id },
        after: { email: user.email, role: user.role },
        ip: req.ip,
        at: ctx.now(),
      });
      return sessionBody(user, secret);
    };

    app.post(
      "/session",
      {
        schema: {
          operationId: "signIn",
          tags,
          summary: "Sign in with e-mail, password and (when enrolled) a TOTP code; sets the session cookie",
          security: [],
          body: z.object({ email: Email, password: Password, totp: z.string().trim().max(10).optional() }),
          response: { 200: SessionOut },
        },
        config: { rateLimit },
        preHandler: clientLimit,
      },
      async (req, reply) => {
        const user = await findUserByEmail(ctx.db, req.body.email);
        const ok = await verifyPassword(req.body.password, user?.passwordHash);
        if (!user || !ok || user.disabledAt)
          throw new AmendsError("UNAUTHENTICATED", "the e-mail or the password is wrong");
        if (user.totpSecret) {
          if (!req.body.totp)
            throw new AmendsError("UNAUTHENTICATED", "enter the code from your authenticator app", [
              { field: "totp", message: "required" },
            ]);
          const step = await checkTotp(user.totpSecret, req.body.totp, ctx.now(), user.totpLastStep);
          if (step === undefined)
            throw new AmendsError("UNAUTHENTICATED", "the code is wrong or was already used", [
              { field: "totp", message: "wrong or already used" },
            ]);
          await updateUser(ctx.db, user.workspaceId, user.id, { totpLastStep: step }, ctx.now());
        }
        return reply.send(await signIn(req, reply, user, "session.create"));
      },
    );
    app.get(
      "/session",
      {
        schema: {
          operationId: "getSession",
          "x-problems": [401],
          tags,
          summary: "Who is signed in",
          security: [],
          response: { 200: SessionOut },
        },
      },
      async (req) => {
        const secret = req.cookies[SESSION_COOKIE];
        const user = secret ? await findSessionUser(ctx.db, secret, ctx.now()) : undefined;
        if (!secret || !user) throw new AmendsError("UNAUTHENTICATED", "not signed in");
        return sessionBody(user, secret);
      },
    );
    app.delete(
      "/session",
      { schema: { operationId: "signOut", "x-problems": [403], tags, summary: "Sign out", security: [] } },
      async (req, reply) => {
        const secret = req.cookies[SESSION_COOKIE];
        if (secret) {
          const user = await findSessionUser(ctx.db, secret, ctx.now());
          if (user) {
            const sent = req.headers["x-csrf-token"];
            if (!csrfMatches(secret, typeof sent === "string" ? sent : undefined))
              throw new AmendsError("FORBIDDEN", "send the session's CSRF token in the x-csrf-token header");
            await recordAudit(ctx.db, {
              workspaceId: user.workspaceId,
              actor: userActor(user),
              action: "session.delete",
              target: { type: "user", id: user.id },
              ip: req.ip,
              at: ctx.now(),
            });
          }
          await endSession(ctx.db, secret);
        }
        reply.clearCookie(SESSION_COOKIE, {
          path: "/",
          httpOnly: true,
          sameSite: "strict",
          secure: secure(req),
        });
        return reply.code(204).send();
      },
    );

    // ---- OpenID Connect ----
    const oidcSettings = options.oidc ?? oidcSettingsFromEnv();
    const oidc = oidcSettings ? new OidcLogin(oidcSettings) : undefined;
    const needOidc = () => {
      if (!oidc)
        throw new AmendsError("NOT_FOUND", "OpenID Connect is not configured: set AMENDS_OIDC_ISSUER");
      return oidc;
    };
    app.get(
      "/session/oidc",
      {
        schema: {
          operationId: "startOidcSignIn",
          "x-problems": [404],
          tags,
          summary: "Sign in with OpenID Connect: redirects to the identity provider",
          security: [],
        },
      },
      async (req, reply) => {
        const { url, cookie } = await needOidc().start();
        reply.setCookie(OIDC_COOKIE, cookie, {
          httpOnly: true,
          // Lax: the provider's redirect back is a cross-site top-level navigation.
          sameSite: "lax",
          path: OIDC_CALLBACK,
          secure: secure(req),
          maxAge: 600,
        });
        return reply.redirect(url);
      },
    );
    app.get(
      "/session/oidc/callback",
      {
        schema: {
          operationId: "finishOidcSignIn",
          "x-problems": [401, 404],
          tags,
          summary: "Where the identity provider sends the browser back",
          security: [],
        },
      },
      async (req, reply) => {
        const login = needOidc();
        const query = req.url.includes("?") ? req.url.slice(req.url.indexOf("?") + 1) : "";
        let identity: Awaited<ReturnType<OidcLogin["finish"]>>;
        try {
          identity = await login.finish(query, req.cookies[OIDC_COOKIE] ?? "");
        } catch (err) {
          req.log.warn({ err }, "OpenID Connect sign-in failed");
          throw new AmendsError("UNAUTHENTICATED", "the identity provider's answer was refused");
        }
        reply.clearCookie(OIDC_COOKIE, { path: OIDC_CALLBACK });
        let user = await findUserBySubject(ctx.db, identity.subject);
        if (!user && identity.email && identity.emailVerified) {
          const byEmail = await findUserByEmail(ctx.db, identity.email);
          if (byEmail && !byEmail.oidcSubject)
            user = await linkOidcSubject(ctx.db, byEmail, identity.subject, ctx.now());
        }
        if (!user || user.disabledAt)
          throw new AmendsError(
            "UNAUTHENTICATED",
            "no one here has this identity; ask an admin to invite you",
          );
        await signIn(req, reply, user, "session.create");
        return reply.redirect("/admin/");
      },
    );

    // ---- first run and invitations ----
    app.post(
      "/setup",
      {
        schema: {
          operationId: "completeSetup",
          tags,
          summary: "First run: create the owner with the one-time link printed by `amends serve`",
          security: [],
          body: z.object({ token: z.string().min(1).max(200), email: Email, name: Name, password: Password }),
          response: { 201: SessionOut },
        },
        config: { rateLimit },
        preHandler: clientLimit,
      },
      async (req, reply) => {
        checkPasswordStrength(req.body.password);
        const user = await ctx.database.transaction(async (tx) => {
          const link = await useOneTimeToken(tx.db, "setup", req.body.token, ctx.now());
          if ((await countUsers(tx.db)) > 0) throw conflict("the owner already exists; sign in instead");
          const ws =
            (link.workspaceId ? await findWorkspace(tx.db, link.workspaceId) : undefined) ??
            (await defaultWorkspace(tx.db)) ??
            (await createWorkspace(tx.db, { slug: "main", name: "Amends" }));
          return createUser(
            tx.db,
            {
              workspaceId: ws.id,
              email: req.body.email,
              name: req.body.name,
              role: "owner",
              password: req.body.password,
            },
            ctx.now(),
          );
        });
        return reply.code(201).send(await signIn(req, reply, user, "setup.owner"));
      },
    );
    app.post(
      "/invites/accept",
      {
        schema: {
          operationId: "acceptInvitation",
          tags,
          summary: "Accept an invitation: choose a password and sign in",
          security: [],
          body: z.object({ token: z.string().min(1).max(200), password: Password }),
          response: { 200: SessionOut },
        },
        config: { rateLimit },
        preHandler: clientLimit,
      },
      async (req, reply) => {
        checkPasswordStrength(req.body.password);
        const passwordHash = await hashPassword(req.body.password);
        const user = await ctx.database.transaction(async (tx) => {
          const link = await useOneTimeToken(tx.db, "invite", req.body.token, ctx.now());
          return updateUser(tx.db, link.workspaceId!, link.userId!, { passwordHash }, ctx.now());
        });
        if (user.disabledAt) throw new AmendsError("UNAUTHENTICATED", "this account is disabled");
        return reply.send(await signIn(req, reply, user, "invite.accept"));
      },
    );

    // ---- users ----
    const inviteUrl = (req: FastifyRequest, token: string) =>
      `${req.protocol}://${req.host}/admin/invite?token=${token}`;
    /** One may only hand out, or take away, a role whose permissions one holds. */
    const mayManage = (req: FastifyRequest, role: Role) => mayGrant(principal(req).scopes, scopesOf(role));

    app.get(
      "/users",
      {
        schema: {
          operationId: "listUsers",
          summary: "List the people of the workspace and their roles",
          tags,
          response: { 200: z.object({ users: z.array(UserOut) }) },
        },
        preHandler: ctx.auth("read"),
      },
      async (req) => {
        return { users: (await listUsers(ctx.db, principal(req).workspaceId)).map(userJson) };
      },
    );
    app.get(
      "/users/:id",
      {
        schema: {
          operationId: "getUser",
          summary: "One person and their role",
          tags,
          params: z.object({ id: z.string().max(100) }),
          response: { 200: UserOut },
        },
        preHandler: ctx.auth("read"),
      },
      async (req) => userJson(await getUserRow(ctx.db, principal(req).workspaceId, req.params.id)),
    );
    app.post(
      "/users",
      {
        schema: {
          operationId: "createUser",
          tags,
          summary: "Add a person; without a password the answer carries a one-time invitation link",
          body: z.strictObject({
            email: Email,
            name: Name,
            role: z.enum(ROLES),
            password: Password.optional(),
            locale: Locale.optional(),
          }),
          response: { 201: UserOut.extend({ inviteUrl: z.string().optional() }) },
        },
        preHandler: ctx.auth("users:write"),
      },
      async (req, reply) => {
        const ws = principal(req).workspaceId;
        if (!mayManage(req, req.body.role))
          throw new AmendsError("FORBIDDEN", `you may not grant the ${req.body.role} role`, [
            { field: "role", message: "beyond your own permissions" },
          ]);
        const user = await createUser(ctx.db, { workspaceId: ws, ...req.body }, ctx.now());
        const out = userJson(user);
        if (req.body.password !== undefined) return reply.code(201).send(out);
        const token = await createOneTimeToken(
          ctx.db,
          { kind: "invite", workspaceId: ws, userId: user.id },
          ctx.now(),
        );
        return reply.code(201).send({ ...out, inviteUrl: inviteUrl(req, token) });
      },
    );
    app.patch(
      "/users/:id",
      {
        schema: {
          operationId: "updateUser",
          summary: "Change a person's role, name or language, or disable their sign-in",
          tags,
          params: z.object({ id: z.string().max(100) }),
          body: z.strictObject({
            role: z.enum(ROLES).optional(),
            name: Name.optional(),
            locale: Locale.optional(),
            disabled: z.boolean().optional(),
          }),
          response: { 200: UserOut },
        },
        preHandler: ctx.auth("users:write"),
      },
      async (req) => {
        const ws = principal(req).workspaceId;
        const current = await getUserRow(ctx.db, ws, req.params.id);
        if (!isRole(current.role) || !mayManage(req, current.role))
          throw new AmendsError("FORBIDDEN", `you may not change a user with the ${current.role} role`);
        if (req.body.role && !mayManage(req, req.body.role))
          throw new AmendsError("FORBIDDEN", `you may not grant the ${req.body.role} role`, [
            { field: "role", message: "beyond your own permissions" },
          ]);
        const losesOwner =
          current.role === "owner" && ((req.body.role && req.body.role !== "owner") || req.body.disabled);
        if (losesOwner && (await otherActiveOwners(ctx.db, ws, current.id)) === 0)
          throw conflict(
            "this is the last owner: make someone else owner first",
            req.body.role ? "role" : "disabled",
          );
        return userJson(await updateUser(ctx.db, ws, current.id, req.body, ctx.now()));
      },
    );

    // ---- one's own account ----
    const me = (req: FastifyRequest): UserRow => {
      const u = principal(req).user;
      if (!u)
        throw new AmendsError("FORBIDDEN", "only a signed-in person has an account; this is an API token");
      return u;
    };
    app.post(
      "/me/totp",
      {
        schema: {
          operationId: "startTotpEnrolment",
          tags,
          summary: "Start enrolling a TOTP authenticator; confirm with a first code",
          response: { 200: z.object({ secret: z.string(), otpauthUrl: z.string() }) },
        },
        preHandler: ctx.auth("read"),
      },
      async (req) => {
        const user = me(req);
        const secret = newTotpSecret();
        await updateUser(ctx.db, user.workspaceId, user.id, { totpPendingSecret: secret }, ctx.now());
        return { secret, otpauthUrl: totpUri(secret, user.email) };
      },
    );
    app.post(
      "/me/totp/confirm",
      {
        schema: {
          operationId: "confirmTotpEnrolment",
          summary: "Confirm the TOTP authenticator with its first code",
          tags,
          body: z.object({ code: z.string().trim().max(10) }),
        },
        preHandler: ctx.auth("read"),
      },
      async (req, reply) => {
        const user = me(req);
        if (!user.totpPendingSecret) throw conflict("start with POST /api/v1/me/totp", "code");
        const step = await checkTotp(user.totpPendingSecret, req.body.code, ctx.now(), null);
        if (step === undefined) throw invalidField("code", "wrong code; check the clock of your device");
        await updateUser(
          ctx.db,
          user.workspaceId,
          user.id,
          { totpSecret: user.totpPendingSecret, totpPendingSecret: null, totpLastStep: step },
          ctx.now(),
        );
        return reply.code(204).send();
      },
    );
    app.post(
      "/me/password",
      {
        schema: {
          operationId: "changePassword",
          summary: "Change your own password",
          tags,
          body: z.object({ current: Password, next: Password }),
        },
        preHandler: [ctx.auth("read"), clientLimit],
        config: { rateLimit },
      },
      async (req, reply) => {
        const user = me(req);
        if (!(await verifyPassword(req.body.current, user.passwordHash)))
          throw invalidField("current", "the current password is wrong");
        checkPasswordStrength(req.body.next, "next");
        await updateUser(
          ctx.db,
          user.workspaceId,
          user.id,
          { passwordHash: await hashPassword(req.body.next) },
          ctx.now(),
        );
        // Whoever else knew the old password is signed out everywhere.
        await endOtherSessions(ctx.db, user.id, principal(req).session);
        return reply.code(204).send();
      },
    );

    // ---- workspace access settings ----
    const Threshold = z.record(
      z.string().regex(/^[A-Z]{3}$/, "an ISO 4217 code"),
      z.number().int().min(0).describe("minor units"),
    );
    const SettingsOut = z.object({ four_eyes_above: Threshold });
    app.get(
      "/access-settings",
      {
        schema: {
          operationId: "getAccessSettings",
          summary: "The four-eyes thresholds for compensation runs",
          tags,
          response: { 200: SettingsOut },
        },
        preHandler: ctx.auth("read"),
      },
      async (req) => ({ four_eyes_above: await fourEyesThreshold(ctx.db, principal(req).workspaceId) }),
    );
    app.put(
      "/access-settings",
      {
        schema: {
          operationId: "putAccessSettings",
          tags,
          summary:
            "Four eyes: compensation runs above these totals (minor units per currency) need a second, finance approver",
          body: z.strictObject({ four_eyes_above: Threshold }),
          response: { 200: SettingsOut },
        },
        preHandler: ctx.auth("settings:write"),
      },
      async (req) => {
        await setFourEyesThreshold(ctx.db, principal(req).workspaceId, req.body.four_eyes_above);
        return { four_eyes_above: req.body.four_eyes_above };
      },
    );
  };
