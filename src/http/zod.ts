/** Zod building blocks shared by the API's request and response schemas. */
import { z } from "zod";
import { COMPONENT_STATUSES } from "../core/components.ts";
import { IMPACTS, INCIDENT_STATUSES } from "../core/incidents.ts";
import { ID_PATTERN } from "../lib/ids.ts";

export const Id = z
  .string()
  .regex(ID_PATTERN, "use 1–64 letters, digits, '.', '_', ':' or '-', starting with a letter or digit");
export const ComponentStatusSchema = z.enum(COMPONENT_STATUSES);
export const ImpactSchema = z.enum(IMPACTS);
export const IncidentStatusSchema = z.enum(INCIDENT_STATUSES);

/**
 * An instant with an explicit offset, e.g. `2026-11-22T14:00:00Z`, in the years 0001–9999 once
 * in UTC: PostgreSQL has no year 0, and beyond 9999 ISO 8601 needs a sign.
 */
export const Instant = z.iso
  .datetime({
    offset: true,
    message: "expected an ISO 8601 date-time with Z or an offset, e.g. 2026-11-22T14:00:00Z",
  })
  .transform((s) => new Date(s))
  .refine((d) => d.getUTCFullYear() >= 1 && d.getUTCFullYear() <= 9999, "expected a year from 0001 to 9999");

/** A positive whole number that fits the 32-bit integer column it is looked up in (a version, say). */
export const PositiveInt32 = z
  .number()
  .int()
  .positive()
  .max(2 ** 31 - 1);

export const InstantOut = z.string().describe("ISO 8601 date-time, UTC");
export const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

export const Title = z.string().trim().min(1, "must not be empty").max(200, "at most 200 characters");
export const Body = z.string().trim().min(1, "must not be empty").max(20_000, "at most 20,000 characters");

export const Problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number(),
    code: z.string(),
    detail: z.string(),
    instance: z.string().optional(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  })
  .describe("application/problem+json");

const LocaleKey = z.string().regex(/^[a-z]{2}(-[A-Z]{2})?$/, "a locale such as it or pt-BR");
/** Operator text in other languages: `{"it": {"title": "…", "body": "…"}}`. */
export const Translations = z
  .record(LocaleKey, z.strictObject({ title: Title.optional(), body: Body.optional() }))
  .describe('the text in other languages, e.g. {"it": {"title": "…", "body": "…"}}');

/** One field of the translations, by locale. */
export const pickTranslations = (t: z.infer<typeof Translations> | undefined, field: "title" | "body") =>
  Object.fromEntries(
    Object.entries(t ?? {}).flatMap(([locale, v]) => (v[field] ? [[locale, v[field]]] : [])),
  );
