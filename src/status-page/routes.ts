import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { AmendsError } from "../core/errors.ts";
import { getIncident, listIncidents } from "../incidents/store.ts";
import type { Db } from "../storage/database.ts";
import { defaultWorkspace } from "../workspaces/store.ts";
import { renderErrorPage, renderIncidentPage, renderStatusPage } from "./render-html.ts";
import { loadPublicState, type PublicState } from "./state.ts";
import {
  componentsJson,
  incidentsJson,
  scheduledMaintenancesJson,
  statusJson,
  summaryJson,
} from "./statuspage-v2.ts";

/** The public status page and its Statuspage-compatible JSON. No token needed. */
export const statusPageRoutes =
  (db: Db, now: () => Date): FastifyPluginAsync =>
  async (app) => {
    const baseUrl = (req: FastifyRequest) => `${req.protocol}://${req.host}`;
    const state = async (): Promise<PublicState> => {
      const ws = await defaultWorkspace(db);
      if (!ws)
        throw new AmendsError(
          "NOT_FOUND",
          "there is no workspace yet: run `amends demo` or `amends workspace create`",
        );
      return loadPublicState(db, ws, now());
    };
    const json = (reply: FastifyReply, body: unknown) =>
      reply
        .header("access-control-allow-origin", "*")
        .header("cache-control", "public, max-age=10")
        .send(body);

    app.get("/", async (_req, reply) => {
      const s = await state();
      return reply
        .type("text/html; charset=utf-8")
        .header("cache-control", "public, max-age=10")
        .send(renderStatusPage(s, now()));
    });
    app.get<{ Params: { id: string } }>("/incidents/:id", async (req, reply) => {
      const s = await state();
      const incident = await getIncident(db, s.workspace.id, req.params.id).catch(() => undefined);
      if (!incident)
        return reply
          .code(404)
          .type("text/html; charset=utf-8")
          .send(renderErrorPage(404, "No such incident."));
      return reply
        .type("text/html; charset=utf-8")
        .header("cache-control", "public, max-age=10")
        .send(renderIncidentPage(incident, s, now()));
    });
    app.get("/api/v2/summary.json", async (req, reply) =>
      json(reply, summaryJson(await state(), baseUrl(req))),
    );
    app.get("/api/v2/status.json", async (req, reply) =>
      json(reply, statusJson(await state(), baseUrl(req))),
    );
    app.get("/api/v2/components.json", async (req, reply) =>
      json(reply, componentsJson(await state(), baseUrl(req))),
    );
    app.get("/api/v2/incidents.json", async (req, reply) => {
      const s = await state();
      const latest = await listIncidents(db, s.workspace.id, { limit: 50 });
      return json(reply, incidentsJson(s, latest, baseUrl(req)));
    });
    app.get("/api/v2/incidents/unresolved.json", async (req, reply) => {
      const s = await state();
      return json(reply, incidentsJson(s, s.open, baseUrl(req)));
    });
    for (const path of ["", "/upcoming", "/active"]) {
      app.get(`/api/v2/scheduled-maintenances${path}.json`, async (req, reply) =>
        json(reply, scheduledMaintenancesJson(await state(), baseUrl(req))),
      );
    }
  };
