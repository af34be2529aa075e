/**
 * The public status page and its Statuspage-compatible JSON. No token needed, and no request
 * reads the database: documents come from the workspace's snapshot (see snapshot.ts).
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import type { DatabaseLimiter } from "../access/rate-limit-store.ts";
import { flattenTree } from "../core/components.ts";
import { AmendsError } from "../core/errors.ts";
import { isLocale, type Locale, type MessageKey, t } from "../i18n/catalog.ts";
import { negotiateLocale } from "../i18n/negotiate.ts";
import { getIncident } from "../incidents/store.ts";
import type { ChannelRegistry } from "../notifications/channels/index.ts";
import { getReport } from "../postmortems/store.ts";
import type { Db } from "../storage/database.ts";
import { statusPages } from "../storage/schema.ts";
import { defaultWorkspace, findWorkspace, type Workspace } from "../workspaces/store.ts";
import { renderBadge, renderWidgetScript } from "./badge.ts";
import type { FastLane } from "./fast-lane.ts";
import { atomFeed, rssFeed } from "./feeds.ts";
import { maintenanceCalendar } from "./ical.ts";
import { pageAccessRoutes } from "./page-access.ts";
import { admits, isPrivate, type StatusPage } from "./pages.ts";
import {
  renderErrorPage,
  renderIncidentPage,
  renderPostmortemPage,
  renderStatusPage,
} from "./render-html.ts";
import { docOf, type Snapshot, SnapshotCache, sendDoc } from "./snapshot.ts";
import { loadPublicState, type PublicState, pageState, shownIncident } from "./state.ts";
import {
  componentsJson,
  incidentsJson,
  scheduledMaintenancesJson,
  statusJson,
  summaryJson,
} from "./statuspage-v2.ts";

const HTML = "text/html; charset=utf-8";
const JSON_TYPE = "application/json; charset=utf-8";

/**
 * One snapshot cache per page: the workspace's default page, and each of its other pages
 * (chosen by host name or /p/<id>/). Which pages exist is kept in memory too, so finding the
 * page of a request reads nothing: the default page only looks up its Host in a map.
 */
export class PublicPages {
  private readonly caches = new Map<string, SnapshotCache<PublicState>>();
  private readonly latest = new Map<string, StatusPage>();
  private workspace: Workspace | undefined;
  private readonly pages: SnapshotCache<{ byHost: Map<string, StatusPage>; byId: Map<string, StatusPage> }>;

  /**
   * `maxAgeMs`: how old a snapshot may grow before it is rebuilt; short while this process
   * cannot hear other processes' changes (LISTEN down), so pages still refresh within seconds.
   */
  constructor(
    private readonly db: Db,
    private readonly now: () => Date,
    private readonly lane?: FastLane,
    private readonly maxAgeMs: () => number = () => 15_000,
  ) {
    this.pages = new SnapshotCache(
      async () => {
        const ws = await this.defaultWorkspace();
        const rows = await this.db.select().from(statusPages);
        return {
          byHost: new Map(rows.filter((p) => p.hostname).map((p) => [p.hostname!, p])),
          // Paths name pages of the default workspace.
          byId: new Map(rows.filter((p) => p.workspaceId === ws.id).map((p) => [p.id, p])),
        };
      },
      () => this.now().getTime(),
      maxAgeMs,
      "pages",
    );
  }

  /** Drops what a write may have changed; the next request rebuilds. */
  invalidate(workspaceId?: string): void {
    this.lane?.clear();
    // The workspace itself may have changed (its name, its notification settings: the form offers SMS or not).
    if (!workspaceId || this.workspace?.id === workspaceId) this.workspace = undefined;
    this.pages.invalidate();
    for (const [id, cache] of this.caches)
      if (!workspaceId || id === workspaceId || id.startsWith(`${workspaceId}\u0000`)) cache.invalidate();
  }

  private async loadPages() {
    try {
      return (await this.pages.current()).state;
    } catch (err) {
      if (err instanceof AmendsError) throw err;
      // With the database down before the pages were ever read: the default page only.
      return { byHost: new Map<string, StatusPage>(), byId: new Map<string, StatusPage>() };
    }
  }

  /** The page a request asks for: by /p/<id>/ or by Host; undefined for the default page. */
  async pageFor(req: FastifyRequest): Promise<StatusPage | undefined | null> {
    const pages = await this.loadPages();
    const id = (req.params as { page?: string }).page;
    if (id !== undefined) return pages.byId.get(id) ?? null;
    return pages.byHost.size ? pages.byHost.get(req.hostname.toLowerCase()) : undefined;
  }

  private async defaultWorkspace(): Promise<Workspace> {
    this.workspace ??= await defaultWorkspace(this.db);
    const ws = this.workspace;
    if (!ws)
      throw new AmendsError(
        "NOT_FOUND",
        "there is no workspace yet: run `amends demo` or `amends workspace create`",
      );
    return ws;
  }

  async snapshot(page?: StatusPage): Promise<Snapshot<PublicState>> {
    const ws = page ? page.workspaceId : (await this.defaultWorkspace()).id;
    const key = page ? `${ws}\u0000${page.id}` : ws;
    // A rebuild reads the page as last found: its components or its privacy may have changed.
    if (page) this.latest.set(key, page);
    let cache = this.caches.get(key);
    if (!cache) {
      const load = page
        ? async () => {
            const current = this.latest.get(key)!;
            const workspace = await findWorkspace(this.db, current.workspaceId);
            if (!workspace) throw new AmendsError("NOT_FOUND", "this page's workspace is gone");
            // A private page may show private components; any other page never does.
            const audience = isPrivate(current) ? "everyone" : "public";
            const state = await loadPublicState(this.db, workspace, this.now(), audience);
            // The page's own name heads it.
            return pageState({ ...state, name: current.name }, current.components);
          }
        : async () => loadPublicState(this.db, await this.defaultWorkspace(), this.now());
      cache = new SnapshotCache(load, () => this.now().getTime(), this.maxAgeMs);
      this.caches.set(key, cache);
    }
    return cache.current();
  }
}

export const statusPageRoutes =
  (
    db: Db,
    now: () => Date,
    pages: PublicPages,
    loginAttempts: DatabaseLimiter,
    channels: ChannelRegistry = {},
  ): FastifyPluginAsync =>
  async (app) => {
    const baseUrl = (req: FastifyRequest) => `${req.protocol}://${req.host}`;
    /**
     * The snapshot of the page a request asks for, once it may see it. A private page's
     * documents are marked private (no shared cache) and vary by cookie; a page at /p/<id>/
     * links within itself.
     */
    const view = async (req: FastifyRequest, reply: FastifyReply) => {
      const page = await pages.pageFor(req);
      if (page === null) {
        notFound(reply, localeOf(req), "noSuchPage");
        return undefined;
      }
      const snap = await pages.snapshot(page);
      const prefix = page && (req.params as { page?: string }).page !== undefined ? `/p/${page.id}` : "";
      if (page && !admits(page, snap.state.workspace.linkSecret, req, now().getTime())) {
        const isDocument = /\.(json|rss|atom|ics|svg|js)$/.test(req.url.split("?")[0]!);
        if (isDocument)
          reply.code(401).type("text/plain; charset=utf-8").send("this page is private: log in at /login");
        else reply.redirect(`${prefix}/login`, 303);
        return undefined;
      }
      const privateHeaders: Record<string, string> =
        page && isPrivate(page)
          ? { "cache-control": "private, no-cache", vary: "accept-encoding, accept-language, cookie" }
          : {};
      return { snap, page, prefix, base: `${baseUrl(req)}${prefix}`, privateHeaders };
    };
    type View = NonNullable<Awaited<ReturnType<typeof view>>>;
    const docIn = (v: View, key: string, render: () => { type: string; content: string }) =>
      docOf(v.snap, `${v.prefix}|${key}`, () => {
        const r = render();
        return v.prefix && r.type === HTML
          ? {
              ...r,
              content: r.content
                .replaceAll('href="/', `href="${v.prefix}/`)
                .replaceAll('src="/brand/', `src="${v.prefix}/brand/`),
            }
          : r;
      });
    const cors = { "access-control-allow-origin": "*" };
    const json = (path: string, render: (s: PublicState, base: string) => unknown) =>
      app.get(path, async (req, reply) => {
        const v = await view(req, reply);
        if (!v) return reply;
        const { snap, base } = v;
        const doc = docIn(v, `${path}|${base}`, () => ({
          type: JSON_TYPE,
          content: JSON.stringify(render(snap.state, base)),
        }));
        return sendDoc(req, reply, doc, { ...cors, ...v.privateHeaders });
      });

    const localeOf = (req: FastifyRequest) =>
      negotiateLocale(req.query, req.headers["accept-language"], (req.params as { lang?: string }).lang);
    const langHeaders = (locale: string) => ({
      "content-language": locale,
      vary: "accept-encoding, accept-language",
    });
    const notFound = (reply: FastifyReply, locale: Locale, message: MessageKey) =>
      reply
        .code(404)
        .type(HTML)
        .send(renderErrorPage(404, t(locale, message), locale));

    const statusPage = async (req: FastifyRequest, reply: FastifyReply) => {
      const v = await view(req, reply);
      if (!v) return reply;
      const { snap } = v;
      const locale = localeOf(req);
      // A Milan customer sees Milan first: ?region= among the tree's cities (anything else is ignored).
      const asked = (req.query as { region?: unknown }).region;
      const region =
        typeof asked === "string" && flattenTree(snap.state.tree).some((n) => n.region === asked)
          ? asked
          : undefined;
      const doc = docIn(v, `/|${locale}|${region ?? ""}`, () => ({
        type: HTML,
        content: renderStatusPage(snap.state, now(), snap.staleSince, locale, region),
      }));
      return sendDoc(req, reply, doc, { ...langHeaders(locale), ...v.privateHeaders });
    };
    const incidentPage = async (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
      const v = await view(req, reply);
      if (!v) return reply;
      const { snap } = v;
      const locale = localeOf(req);
      const known = [...snap.state.open, ...snap.state.recent, ...snap.state.latest].find(
        (i) => i.id === req.params.id,
      );
      // Older incidents are not in the snapshot; they change rarely and are read from the database.
      const older =
        known || v.page
          ? undefined
          : await getIncident(db, snap.state.workspace.id, req.params.id).catch(() => undefined);
      const incident = known ?? (older && shownIncident(snap.state.scope, older));
      if (!incident) return notFound(reply, locale, "noSuchIncident");
      const doc = docIn(v, `/incidents/${incident.id}|${locale}`, () => ({
        type: HTML,
        content: renderIncidentPage(incident, snap.state, now(), locale),
      }));
      return sendDoc(req, reply, doc, { ...langHeaders(locale), ...v.privateHeaders });
    };
    // Each language also has its own address (/it/, /it/incidents/…), for links and static copies.
    const inLanguage =
      <R extends FastifyRequest>(handler: (req: R, reply: FastifyReply) => Promise<unknown>) =>
      async (req: R, reply: FastifyReply) =>
        isLocale((req.params as { lang?: string }).lang)
          ? handler(req, reply)
          : notFound(reply, localeOf(req), "noSuchPage");
    const postmortemPage = async (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
      const v = await view(req, reply);
      if (!v) return reply;
      const { snap } = v;
      const locale = localeOf(req);
      const ws = snap.state.workspace.id;
      // Reports of older incidents are not in the snapshot; they change rarely and are read from the database.
      const report =
        snap.state.postmortems.get(req.params.id) ??
        (await getReport(db, ws, req.params.id).catch(() => undefined));
      if (report?.status !== "published") return notFound(reply, locale, "noSuchPage");
      const known = [...snap.state.open, ...snap.state.recent, ...snap.state.latest].find(
        (i) => i.id === req.params.id,
      );
      const older = known ? undefined : await getIncident(db, ws, req.params.id).catch(() => undefined);
      // Not a report of an incident this page does not show.
      const incident = known ?? (older && shownIncident(snap.state.scope, older));
      if (!incident) return notFound(reply, locale, "noSuchIncident");
      const doc = docIn(v, `/incidents/${incident.id}/report|${locale}`, () => ({
        type: HTML,
        content: renderPostmortemPage(incident, report, snap.state, locale),
      }));
      return sendDoc(req, reply, doc, { ...langHeaders(locale), ...v.privateHeaders });
    };
    await app.register(pageAccessRoutes(pages, now, channels, loginAttempts));
    app.get("/", statusPage);
    app.get<{ Params: { id: string } }>("/incidents/:id/report", postmortemPage);
    app.get<{ Params: { id: string; lang: string } }>(
      "/:lang/incidents/:id/report",
      inLanguage(postmortemPage),
    );
    app.get("/:lang/", inLanguage(statusPage));
    app.get<{ Params: { id: string } }>("/incidents/:id", incidentPage);
    app.get<{ Params: { id: string; lang: string } }>("/:lang/incidents/:id", inLanguage(incidentPage));
    for (const [path, type, render] of [
      ["/history.rss", "application/rss+xml; charset=utf-8", rssFeed],
      ["/history.atom", "application/atom+xml; charset=utf-8", atomFeed],
    ] as const) {
      app.get(path, async (req, reply) => {
        const v = await view(req, reply);
        if (!v) return reply;
        const { snap, base } = v;
        const doc = docIn(v, `${path}|${base}`, () => ({
          type,
          content: render(snap.state, base),
        }));
        return sendDoc(req, reply, doc, { ...cors, ...v.privateHeaders });
      });
    }
    app.get<{ Querystring: { component?: string } }>("/maintenance.ics", async (req, reply) => {
      const v = await view(req, reply);
      if (!v) return reply;
      const { snap, base } = v;
      const component = typeof req.query.component === "string" ? req.query.component : undefined;
      const doc = docIn(v, `/maintenance.ics|${base}|${component ?? ""}`, () => ({
        type: "text/calendar; charset=utf-8",
        content: maintenanceCalendar(snap.state, base, component),
      }));
      return sendDoc(req, reply, doc, { ...cors, ...v.privateHeaders });
    });
    app.get("/badge.svg", async (req, reply) => {
      const v = await view(req, reply);
      if (!v) return reply;
      const { snap } = v;
      const locale = localeOf(req);
      const doc = docIn(v, `/badge.svg|${locale}`, () => ({
        type: "image/svg+xml",
        content: renderBadge(
          "status",
          t(locale, `indicator.${snap.state.indicator.indicator}`),
          snap.state.indicator.indicator,
        ),
      }));
      return sendDoc(req, reply, doc, { ...cors, ...v.privateHeaders });
    });
    app.get("/widget.js", async (req, reply) => {
      const v = await view(req, reply);
      if (!v) return reply;
      const { snap, base } = v;
      const doc = docIn(v, `/widget.js|${base}`, () => ({
        type: "text/javascript; charset=utf-8",
        content: renderWidgetScript(snap.state.workspace.publicUrl ?? base),
      }));
      return sendDoc(req, reply, doc, { ...cors, ...v.privateHeaders });
    });
    // The brand's images, by the hash in their name: from the snapshot, cached for ever. An SVG
    // opened on its own runs nothing (sandboxed, no script), whatever it holds.
    app.get<{ Params: { file: string } }>("/brand/:file", async (req, reply) => {
      const v = await view(req, reply);
      if (!v) return reply;
      const { logo, favicon } = v.snap.state.brand;
      const asset = [logo, favicon].find((a) => a?.path === `/brand/${req.params.file}`);
      if (!asset) return notFound(reply, localeOf(req), "noSuchPage");
      return reply
        .headers({
          "cache-control": "public, max-age=31536000, immutable",
          "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
          ...v.privateHeaders,
        })
        .type(asset.contentType)
        .send(asset.body);
    });
    json("/api/v2/summary.json", summaryJson);
    json("/api/v2/status.json", statusJson);
    json("/api/v2/components.json", componentsJson);
    json("/api/v2/incidents.json", (s, base) => incidentsJson(s, s.latest, base));
    json("/api/v2/incidents/unresolved.json", (s, base) => incidentsJson(s, s.open, base));
    for (const [path, which] of [
      ["", "all"],
      ["/upcoming", "upcoming"],
      ["/active", "active"],
    ] as const)
      json(`/api/v2/scheduled-maintenances${path}.json`, scheduledMaintenancesJson(which));
  };
