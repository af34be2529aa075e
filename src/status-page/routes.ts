/**
 * The public status page and its Statuspage-compatible JSON. No token needed, and no request
 * reads the database: documents come from the workspace's snapshot (see snapshot.ts).
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import type { Feed } from "feed";
import { AmendsError } from "../core/errors.ts";
import { isLocale, type Locale, type MessageKey, t } from "../i18n/catalog.ts";
import { negotiateLocale } from "../i18n/negotiate.ts";
import { getIncident } from "../incidents/store.ts";
import { getReport } from "../postmortems/store.ts";
import type { Db } from "../storage/database.ts";
import { defaultWorkspace, type Workspace } from "../workspaces/store.ts";
import { renderBadge, renderWidgetScript } from "./badge.ts";
import { incidentFeed } from "./feeds.ts";
import { maintenanceCalendar } from "./ical.ts";
import {
  renderErrorPage,
  renderIncidentPage,
  renderPostmortemPage,
  renderStatusPage,
} from "./render-html.ts";
import { docOf, type Snapshot, SnapshotCache, sendDoc } from "./snapshot.ts";
import { loadPublicState, type PublicState } from "./state.ts";
import {
  componentsJson,
  incidentsJson,
  scheduledMaintenancesJson,
  statusJson,
  summaryJson,
} from "./statuspage-v2.ts";

const HTML = "text/html; charset=utf-8";
const JSON_TYPE = "application/json; charset=utf-8";

/** One snapshot cache per workspace, and which workspace the page shows. */
export class PublicPages {
  private readonly caches = new Map<string, SnapshotCache<PublicState>>();
  private workspace: Workspace | undefined;

  constructor(
    private readonly db: Db,
    private readonly now: () => Date,
  ) {}

  /** Drops what a write may have changed; the next request rebuilds. */
  invalidate(workspaceId?: string): void {
    if (!workspaceId) this.workspace = undefined;
    for (const [id, cache] of this.caches) if (!workspaceId || id === workspaceId) cache.invalidate();
  }

  async snapshot(): Promise<Snapshot<PublicState>> {
    this.workspace ??= await defaultWorkspace(this.db);
    const ws = this.workspace;
    if (!ws)
      throw new AmendsError(
        "NOT_FOUND",
        "there is no workspace yet: run `amends demo` or `amends workspace create`",
      );
    let cache = this.caches.get(ws.id);
    if (!cache) {
      cache = new SnapshotCache(
        () => loadPublicState(this.db, ws, this.now()),
        () => this.now().getTime(),
      );
      this.caches.set(ws.id, cache);
    }
    return cache.current();
  }
}

export const statusPageRoutes =
  (db: Db, now: () => Date, pages: PublicPages): FastifyPluginAsync =>
  async (app) => {
    const baseUrl = (req: FastifyRequest) => `${req.protocol}://${req.host}`;
    const cors = { "access-control-allow-origin": "*" };
    const json = (path: string, render: (s: PublicState, base: string) => unknown) =>
      app.get(path, async (req, reply) => {
        const snap = await pages.snapshot();
        const base = baseUrl(req);
        const doc = docOf(snap, `${path}|${base}`, () => ({
          type: JSON_TYPE,
          content: JSON.stringify(render(snap.state, base)),
        }));
        return sendDoc(req, reply, doc, cors);
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
      const snap = await pages.snapshot();
      const locale = localeOf(req);
      const doc = docOf(snap, `/|${locale}`, () => ({
        type: HTML,
        content: renderStatusPage(snap.state, now(), snap.staleSince, locale),
      }));
      return sendDoc(req, reply, doc, langHeaders(locale));
    };
    const incidentPage = async (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
      const snap = await pages.snapshot();
      const locale = localeOf(req);
      const known = [...snap.state.open, ...snap.state.recent, ...snap.state.latest].find(
        (i) => i.id === req.params.id,
      );
      // Older incidents are not in the snapshot; they change rarely and are read from the database.
      const incident =
        known ?? (await getIncident(db, snap.state.workspace.id, req.params.id).catch(() => undefined));
      if (!incident) return notFound(reply, locale, "noSuchIncident");
      const doc = docOf(snap, `/incidents/${incident.id}|${locale}`, () => ({
        type: HTML,
        content: renderIncidentPage(incident, snap.state, now(), locale),
      }));
      return sendDoc(req, reply, doc, langHeaders(locale));
    };
    // Each language also has its own address (/it/, /it/incidents/…), for links and static copies.
    const inLanguage =
      <R extends FastifyRequest>(handler: (req: R, reply: FastifyReply) => Promise<unknown>) =>
      async (req: R, reply: FastifyReply) =>
        isLocale((req.params as { lang?: string }).lang)
          ? handler(req, reply)
          : notFound(reply, localeOf(req), "noSuchPage");
    const postmortemPage = async (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
      const snap = await pages.snapshot();
      const locale = localeOf(req);
      const ws = snap.state.workspace.id;
      // Reports of older incidents are not in the snapshot; they change rarely and are read from the database.
      const report =
        snap.state.postmortems.get(req.params.id) ??
        (await getReport(db, ws, req.params.id).catch(() => undefined));
      if (report?.status !== "published") return notFound(reply, locale, "noSuchPage");
      const incident =
        [...snap.state.open, ...snap.state.recent, ...snap.state.latest].find(
          (i) => i.id === req.params.id,
        ) ?? (await getIncident(db, ws, req.params.id).catch(() => undefined));
      if (!incident) return notFound(reply, locale, "noSuchIncident");
      const doc = docOf(snap, `/incidents/${incident.id}/report|${locale}`, () => ({
        type: HTML,
        content: renderPostmortemPage(incident, report, snap.state, locale),
      }));
      return sendDoc(req, reply, doc, langHeaders(locale));
    };
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
      ["/history.rss", "application/rss+xml; charset=utf-8", (f: Feed) => f.rss2()],
      ["/history.atom", "application/atom+xml; charset=utf-8", (f: Feed) => f.atom1()],
    ] as const) {
      app.get(path, async (req, reply) => {
        const snap = await pages.snapshot();
        const base = baseUrl(req);
        const doc = docOf(snap, `${path}|${base}`, () => ({
          type,
          content: render(incidentFeed(snap.state, base)),
        }));
        return sendDoc(req, reply, doc, cors);
      });
    }
    app.get<{ Querystring: { component?: string } }>("/maintenance.ics", async (req, reply) => {
      const snap = await pages.snapshot();
      const base = baseUrl(req);
      const component = typeof req.query.component === "string" ? req.query.component : undefined;
      const doc = docOf(snap, `/maintenance.ics|${base}|${component ?? ""}`, () => ({
        type: "text/calendar; charset=utf-8",
        content: maintenanceCalendar(snap.state, base, component),
      }));
      return sendDoc(req, reply, doc, cors);
    });
    app.get("/badge.svg", async (req, reply) => {
      const snap = await pages.snapshot();
      const locale = localeOf(req);
      const doc = docOf(snap, `/badge.svg|${locale}`, () => ({
        type: "image/svg+xml",
        content: renderBadge(
          "status",
          t(locale, `indicator.${snap.state.indicator.indicator}`),
          snap.state.indicator.indicator,
        ),
      }));
      return sendDoc(req, reply, doc, cors);
    });
    app.get("/widget.js", async (req, reply) => {
      const snap = await pages.snapshot();
      const base = baseUrl(req);
      const doc = docOf(snap, `/widget.js|${base}`, () => ({
        type: "text/javascript; charset=utf-8",
        content: renderWidgetScript(snap.state.workspace.publicUrl ?? base),
      }));
      return sendDoc(req, reply, doc, cors);
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
