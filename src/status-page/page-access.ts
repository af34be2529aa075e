/**
 * Logging in to a private page (at its host's /login, or /p/<id>/login): with the page's
 * password, or with a link e-mailed to an address of an allowed domain (through the e-mail
 * channel). Either sets the page's signed session cookie; IP allow-lists need no login.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import type { DatabaseLimiter } from "../access/rate-limit-store.ts";
import { acceptForms, field } from "../http/forms.ts";
import { type Locale, t } from "../i18n/catalog.ts";
import { negotiateLocale } from "../i18n/negotiate.ts";
import { html } from "../lib/html.ts";
import type { ChannelRegistry } from "../notifications/channels/index.ts";
import {
  cookieName,
  emailAdmitted,
  isPrivate,
  loginToken,
  loginTokenValid,
  passwordMatches,
  type StatusPage,
  sessionCookie,
} from "./pages.ts";
import { renderSimplePage } from "./render-html.ts";
import type { PublicPages } from "./routes.ts";

export const pageAccessRoutes =
  (
    pages: PublicPages,
    now: () => Date,
    channels: ChannelRegistry,
    /** sign-in attempts per address, shared by every process (access/rate-limit-store.ts) */
    attempts: DatabaseLimiter,
  ): FastifyPluginAsync =>
  async (app) => {
    acceptForms(app);
    const prefixOf = (req: FastifyRequest, page: StatusPage) =>
      (req.params as { page?: string }).page !== undefined ? `/p/${page.id}` : "";
    const show = (reply: FastifyReply, status: number, locale: Locale, body: ReturnType<typeof html>) =>
      reply
        .code(status)
        .type("text/html; charset=utf-8")
        .header("cache-control", "no-store")
        .send(renderSimplePage(t(locale, "loginTitle"), body, locale));
    const privatePage = async (req: FastifyRequest) => {
      const page = await pages.pageFor(req);
      return page && isPrivate(page) ? page : undefined;
    };
    const form = (page: StatusPage, prefix: string, locale: Locale) =>
      html`${
        page.passwordHash
          ? html`<form method="post" action="${prefix}/login" class="subscribe"><label for="login-password">${t(locale, "loginPassword")}</label>
<input id="login-password" name="password" type="password" autocomplete="current-password" required><button type="submit">${t(locale, "loginButton")}</button></form>`
          : ""
      }${
        page.emailDomains.length
          ? html`<form method="post" action="${prefix}/login" class="subscribe"><label for="login-email">${t(locale, "loginEmail")}</label>
<input id="login-email" name="email" type="email" autocomplete="email" required><button type="submit">${t(locale, "loginSendLink")}</button></form>`
          : ""
      }`;
    const admit = async (reply: FastifyReply, page: StatusPage, prefix: string) => {
      const snap = await pages.snapshot(page);
      return reply
        .header(
          "set-cookie",
          `${cookieName(page.id)}=${sessionCookie(snap.state.workspace.linkSecret, page, now().getTime())}; Path=/; HttpOnly; SameSite=Lax; Max-Age=43200${
            reply.request.protocol === "https" ? "; Secure" : ""
          }`,
        )
        .redirect(`${prefix}/`, 303);
    };

    app.get("/login", async (req, reply) => {
      const locale = negotiateLocale(req.query, req.headers["accept-language"]);
      const page = await privatePage(req);
      if (!page) return reply.callNotFound();
      return show(reply, 200, locale, form(page, prefixOf(req, page), locale));
    });

    app.post("/login", { bodyLimit: 4096 }, async (req, reply) => {
      const locale = negotiateLocale(req.query, req.headers["accept-language"]);
      const page = await privatePage(req);
      if (!page) return reply.callNotFound();
      const prefix = prefixOf(req, page);
      const wrong = () =>
        show(reply, 401, locale, html`<p>${t(locale, "loginWrong")}</p>${form(page, prefix, locale)}`);
      if (!(await attempts.take(req.ip, now()))) return wrong();
      const password = field(req.body, "password");
      const email = field(req.body, "email");
      if (password !== undefined) {
        return passwordMatches(page.passwordHash, password) ? admit(reply, page, prefix) : wrong();
      }
      if (email !== undefined) {
        const address = email.trim().toLowerCase();
        const sender = channels.email?.[0];
        // Same answer whether or not the address may enter: it reveals nothing about the list.
        if (sender && emailAdmitted(page, address)) {
          const snap = await pages.snapshot(page);
          const token = loginToken(snap.state.workspace.linkSecret, page, address, now().getTime());
          const url = `${req.protocol}://${req.host}${prefix}/login/verify?t=${token}`;
          await sender
            .send({
              idempotencyKey: `page-login:${page.id}:${token.slice(-16)}`,
              channel: "email",
              address,
              locale,
              event: "page.login",
              subject: t(locale, "loginSubject", { name: page.name }),
              text: url,
              html: html`<p><a href="${url}">${page.name}</a></p>`.value,
              url,
            })
            .catch((err: Error) => req.log.warn({ err }, "login link not sent"));
        }
        return show(reply, 202, locale, html`<p>${t(locale, "loginCheckInbox", { address })}</p>`);
      }
      return wrong();
    });

    app.get<{ Querystring: { t?: string } }>("/login/verify", async (req, reply) => {
      const locale = negotiateLocale(req.query, req.headers["accept-language"]);
      const page = await privatePage(req);
      if (!page) return reply.callNotFound();
      const snap = await pages.snapshot(page);
      if (!loginTokenValid(snap.state.workspace.linkSecret, page, req.query.t ?? "", now().getTime()))
        return show(
          reply,
          401,
          locale,
          html`<p>${t(locale, "loginWrong")}</p>${form(page, prefixOf(req, page), locale)}`,
        );
      return admit(reply, page, prefixOf(req, page));
    });
  };
