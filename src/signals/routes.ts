/**
 * The usage-event ingest: `POST /api/v1/usage-events`, NDJSON (one event per line) or a JSON array.
 * A batch is checked whole first, and a bad line is named with its field; then stored, each event
 * once by its id, so a retried or replayed batch changes nothing.
 */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { AmendsError, type FieldError } from "../core/errors.ts";
import { SIGNAL_EVENTS } from "../core/signals.ts";
import { principal } from "../http/auth.ts";
import type { ApiContext } from "../http/context.ts";
import { Id, Instant } from "../http/zod.ts";
import { checkUniqueIds, storeUsageEvents, type UsageEventInput } from "./store.ts";
import { tellNewlyStuck } from "./stuck.ts";

const MAX_EVENTS = 100_000;

const UsageEvent = z.strictObject({
  id: z.string().min(1).max(200).describe("yours, unique: the same id again is the same event"),
  type: z.enum(SIGNAL_EVENTS),
  at: Instant,
  customerId: Id,
  sessionId: z.string().min(1).max(200).optional(),
  componentId: Id.optional().describe("the component used, e.g. end-rental-milan"),
  region: z.string().min(1).max(100).optional(),
});

function parseLines(text: string): { value: unknown; line: number }[] {
  const out: { value: unknown; line: number }[] = [];
  const lines = text.split("\n");
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (!line) continue;
    if (out.length >= MAX_EVENTS)
      throw new AmendsError("PAYLOAD_TOO_LARGE", `at most ${MAX_EVENTS} events in one batch`);
    try {
      out.push({ value: JSON.parse(line), line: i + 1 });
    } catch {
      throw new AmendsError("VALIDATION_FAILED", `line ${i + 1}: not a JSON object`, [
        { field: "body", line: i + 1, message: "not a JSON object" },
      ]);
    }
  }
  return out;
}

function validate(items: { value: unknown; line: number }[]): UsageEventInput[] {
  const fields: FieldError[] = [];
  const events: UsageEventInput[] = [];
  for (const { value, line } of items) {
    const parsed = UsageEvent.safeParse(value);
    if (parsed.success) events.push(parsed.data);
    else
      for (const issue of parsed.error.issues) {
        const field = issue.path.join(".") || "event";
        fields.push({ field, line, message: `line ${line}: ${field}: ${issue.message}` });
      }
    if (fields.length >= 20) break;
  }
  if (fields.length)
    throw new AmendsError("VALIDATION_FAILED", fields.map((f) => f.message).join("; "), fields);
  checkUniqueIds(events);
  return events;
}

export const usageEventRoutes =
  (ctx: ApiContext): FastifyPluginAsyncZod =>
  async (app) => {
    app.addContentTypeParser(
      "application/x-ndjson",
      { parseAs: "string", bodyLimit: 64 * 1024 * 1024 },
      (_req, body, done) => done(null, body),
    );
    app.post(
      "/usage-events",
      {
        schema: {
          operationId: "ingestUsageEvents",
          tags: ["company data"],
          summary: "Send usage events as they happen (session started, ended, failed), idempotent by id",
          description:
            "application/x-ndjson (one event per line) or application/json (an array), up to 100,000 events. " +
            "A bad line is reported by line and field and nothing is written. Signal monitors count these events.",
          response: { 200: z.object({ received: z.number(), stored: z.number(), duplicates: z.number() }) },
        },
        bodyLimit: 64 * 1024 * 1024,
        preHandler: ctx.auth("data:write"),
      },
      async (req) => {
        const body = req.body;
        const items =
          typeof body === "string"
            ? parseLines(body)
            : Array.isArray(body)
              ? body.slice(0, MAX_EVENTS + 1).map((value, i) => ({ value, line: i + 1 }))
              : undefined;
        if (!items)
          throw new AmendsError("VALIDATION_FAILED", "body: an array of events, or NDJSON", [
            { field: "body", message: "an array of events, or NDJSON" },
          ]);
        if (items.length > MAX_EVENTS)
          throw new AmendsError("PAYLOAD_TOO_LARGE", `at most ${MAX_EVENTS} events in one batch`);
        const events = validate(items);
        const ws = principal(req).workspaceId;
        const fresh = await storeUsageEvents(ctx.database, ws, events);
        // The events are stored: a failure to queue the messages is logged, not the sender's problem
        // (and the incident's next update reaches these customers anyway).
        await tellNewlyStuck(ctx.database, ws, fresh, ctx.now()).catch((err) =>
          req.log.error({ err }, "telling newly stuck customers failed"),
        );
        return { received: events.length, stored: fresh.length, duplicates: events.length - fresh.length };
      },
    );
  };
