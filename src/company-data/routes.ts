import type { Readable } from "node:stream";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { AmendsError } from "../core/errors.ts";
import { principal } from "../http/auth.ts";
import type { ApiContext } from "../http/context.ts";
import { arrayRecords, importRecords } from "./import.ts";
import { importFile } from "./import-copy.ts";
import { IMPORT_KINDS, type ImportKind } from "./rows.ts";

export const importRoutes =
  (ctx: ApiContext): FastifyPluginAsyncZod =>
  async (app) => {
    // CSV and NDJSON bodies are streamed to the importer, never held whole in memory.
    app.addContentTypeParser(["text/csv", "application/x-ndjson"], (_req, payload, done) =>
      done(null, payload),
    );
    app.post(
      "/import/:kind",
      {
        schema: {
          operationId: "importCompanyData",
          tags: ["company data"],
          summary: "Upsert customers, usage sessions or charges, idempotent by id",
          description:
            "Send text/csv (header row), application/x-ndjson (one object per line) or application/json (an array). " +
            "A bad row is reported by line and field and nothing is written.",
          params: z.object({ kind: z.enum(Object.keys(IMPORT_KINDS) as [ImportKind, ...ImportKind[]]) }),
          response: { 200: z.object({ kind: z.string(), rows: z.number() }) },
        },
        preHandler: ctx.auth("data:write"),
      },
      async (req) => {
        const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim();
        const workspaceId = principal(req).workspaceId;
        if (type === "text/csv" || type === "application/x-ndjson") {
          const format = type === "text/csv" ? "csv" : "ndjson";
          return importFile(ctx.database, workspaceId, req.params.kind, format, req.body as Readable);
        }
        // A JSON array is already in memory, parsed: the zod path is as quick as anything for it.
        const body = req.body as unknown;
        const rows = Array.isArray(body) ? body : (body as { rows?: unknown })?.rows;
        if (!Array.isArray(rows)) {
          throw new AmendsError("VALIDATION_FAILED", 'body: send an array of rows, or {"rows": [...]}', [
            { field: "body", message: "expected an array of rows" },
          ]);
        }
        return importRecords(ctx.database, workspaceId, req.params.kind, arrayRecords(rows));
      },
    );
  };
