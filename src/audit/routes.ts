import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { principal } from "../http/auth.ts";
import type { ApiContext } from "../http/context.ts";
import { Instant } from "../http/zod.ts";
import { searchAudit } from "./store.ts";

const AuditItem = z.object({
  id: z.number(),
  at: z.string(),
  actor: z.object({ kind: z.string(), id: z.string(), name: z.string() }),
  action: z.string(),
  target: z.object({ type: z.string(), id: z.string().nullable() }),
  before: z.unknown(),
  after: z.unknown(),
  ip: z.string().nullable(),
});

export const auditRoutes =
  (ctx: ApiContext): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      "/audit",
      {
        schema: {
          operationId: "searchAuditLog",
          tags: ["audit"],
          summary: "Search the audit log, newest first",
          description:
            "`actor`: an id, a name or `kind:id`; `action`: exact, or a prefix ending in `.` or `*`; `target`: `type` or `type:id`; `from`/`to`: [from, to); `q`: text anywhere, including before/after.",
          querystring: z.object({
            actor: z.string().max(200).optional(),
            action: z.string().max(200).optional(),
            target: z.string().max(200).optional(),
            from: Instant.optional(),
            to: Instant.optional(),
            q: z.string().max(200).optional(),
            cursor: z.coerce.number().int().positive().optional(),
            limit: z.coerce.number().int().min(1).max(500).default(50),
          }),
          response: { 200: z.object({ items: z.array(AuditItem), nextCursor: z.string().nullable() }) },
        },
        preHandler: ctx.auth("audit:read"),
      },
      async (req) => searchAudit(ctx.db, principal(req).workspaceId, req.query),
    );
  };
