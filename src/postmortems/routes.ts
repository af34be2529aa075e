/** Post-incident reports for operators: draft, read, edit, publish (which sends them). */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { principal } from "../http/auth.ts";
import type { ApiContext } from "../http/context.ts";
import { Id, iso } from "../http/zod.ts";
import { SECTIONS } from "./letter.ts";
import { draftReport, editReport, getReport, type PostIncidentReport, publishReport } from "./store.ts";

const SectionText = z.string().trim().max(20_000, "at most 20,000 characters");
const SectionsPatch = z.strictObject(Object.fromEntries(SECTIONS.map((s) => [s, SectionText.optional()])));
const LocaleKey = z.string().regex(/^[a-z]{2}(-[A-Z]{2})?$/, "a locale such as it or pt-BR");

export const reportJson = (r: PostIncidentReport) => ({
  incident_id: r.incidentId,
  status: r.status,
  sections: r.sections,
  translations: r.translations,
  figures: r.figures,
  created_at: iso(r.createdAt),
  updated_at: iso(r.updatedAt),
  published_at: iso(r.publishedAt),
  url: `/incidents/${encodeURIComponent(r.incidentId)}/report`,
});

export const postmortemRoutes =
  (ctx: ApiContext): FastifyPluginAsyncZod =>
  async (app) => {
    const tags = ["post-incident reports"];
    const params = z.object({ id: Id });
    app.post(
      "/incidents/:id/postmortem",
      {
        schema: {
          operationId: "draftPostmortem",
          tags,
          summary:
            "Draft the letter after a resolved incident (what happened, what we did, what happens now for you, what we change) from its timeline and figures",
          params,
        },
        preHandler: ctx.auth("incidents:write"),
      },
      async (req, reply) =>
        reply
          .code(201)
          .send(
            reportJson(await draftReport(ctx.database, principal(req).workspaceId, req.params.id, ctx.now())),
          ),
    );
    app.get(
      "/incidents/:id/postmortem",
      {
        schema: {
          operationId: "getPostmortem",
          summary: "The incident's post-incident letter, as drafted or as published",
          tags,
          params,
        },
        preHandler: ctx.auth("read"),
      },
      async (req) => reportJson(await getReport(ctx.db, principal(req).workspaceId, req.params.id)),
    );
    app.patch(
      "/incidents/:id/postmortem",
      {
        schema: {
          operationId: "updatePostmortem",
          tags,
          summary: "Edit the sections, in the original language or per locale",
          params,
          body: z.strictObject({
            sections: SectionsPatch.optional(),
            translations: z.record(LocaleKey, SectionsPatch).optional(),
          }),
        },
        preHandler: ctx.auth("incidents:write"),
      },
      async (req) => {
        const ws = principal(req).workspaceId;
        const row = await editReport(ctx.db, ws, req.params.id, req.body, ctx.now());
        if (row.status === "published") ctx.changed(ws);
        return reportJson(row);
      },
    );
    app.post(
      "/incidents/:id/postmortem/publish",
      {
        schema: {
          operationId: "publishPostmortem",
          tags,
          summary:
            "Publish the letter on its page and send it once to every affected customer, in their language",
          params,
        },
        preHandler: ctx.auth("incidents:write"),
      },
      async (req) => {
        const ws = principal(req).workspaceId;
        const { report, queued } = await publishReport(ctx.database, ws, req.params.id, ctx.now());
        ctx.changed(ws);
        return { ...reportJson(report), messages_queued: queued };
      },
    );
  };
