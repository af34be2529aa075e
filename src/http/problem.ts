/**
 * Every error leaves the API as application/problem+json (RFC 9457) with our stable `code`
 * and, for bad input, the fields at fault. Unknown errors are logged and become a bare 500.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";
import { AmendsError, conflict, ERROR_CATALOGUE, type ErrorCode, type FieldError } from "../core/errors.ts";

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail: string;
  instance?: string;
  errors?: FieldError[];
}

export function problemOf(error: AmendsError, instance?: string): Problem {
  return {
    type: `urn:amends:problem:${error.code.toLowerCase()}`,
    title: error.title,
    status: error.status,
    code: error.code,
    detail: error.message,
    ...(instance && { instance }),
    ...(error.fields.length > 0 && { errors: error.fields }),
  };
}

const pathToField = (context: string | undefined, instancePath: string) => {
  const path = instancePath.replace(/^\//, "").split("/").filter(Boolean).join(".");
  return path || context || "body";
};

/** How long a client should wait before retrying while the database is unreachable. */
export const RETRY_AFTER_SECONDS = 5;

/** The database's own error, unwrapped from drizzle's DrizzleQueryError (and any other wrapper). */
function databaseError(error: unknown): { code?: string; detail?: string; message?: string } | undefined {
  let e = error as { code?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 5; depth++, e = e.cause as typeof e) {
    if (typeof e.code === "string") return e as { code: string };
  }
  return undefined;
}

/**
 * Node's and node-postgres's words for "the database cannot be reached", and PostgreSQL's
 * classes for the same: 08 connection exceptions, 57P01–57P03 shutting down or starting up,
 * 53300 too many connections.
 */
const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "57P01",
  "57P02",
  "57P03",
  "53300",
]);
const UNREACHABLE_MESSAGES =
  /^(Connection terminated|timeout exceeded when trying to connect|Cannot use a pool after calling end|Client has encountered a connection error|Client was closed|PGlite is closed)/;

function isUnreachable(error: unknown): boolean {
  let e = error as { code?: unknown; message?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 5; depth++, e = e.cause as typeof e) {
    const code = typeof e.code === "string" ? e.code : "";
    if (UNREACHABLE_CODES.has(code) || code.startsWith("08")) return true;
    if (typeof e.message === "string" && UNREACHABLE_MESSAGES.test(e.message)) return true;
  }
  return false;
}

/** `Key (workspace_id, slug)=(…) already exists.` → the columns the caller chose: `slug`. */
function keyFields(detail: string | undefined): string | undefined {
  const columns = /^Key \(([^)]*)\)=/.exec(detail ?? "")?.[1]?.split(/,\s*/);
  const chosen = columns?.filter((c) => c !== "workspace_id");
  return chosen?.length ? chosen.join(",") : undefined;
}

/** Maps anything thrown while handling a request to one of our catalogue's errors. */
export function toAmendsError(error: unknown): AmendsError | undefined {
  if (error instanceof AmendsError) return error;
  if (isUnreachable(error))
    return new AmendsError("UNAVAILABLE", "the database cannot be reached; try again shortly");
  const db = databaseError(error);
  if (db?.code === "23505") {
    // unique_violation: the key exists already, or a concurrent writer won the race for it
    const field = keyFields(db.detail) ?? "id";
    return conflict(`${field}: something with this ${field} already exists`, field);
  }
  const e = error as FastifyError & { validationContext?: string; code?: string };
  if (hasZodFastifySchemaValidationErrors(e)) {
    const fields = e.validation.map((v) => ({
      field: pathToField(e.validationContext, v.instancePath),
      message: v.message ?? "is not valid",
    }));
    const where = e.validationContext === "querystring" ? "query" : (e.validationContext ?? "body");
    return new AmendsError(
      "VALIDATION_FAILED",
      fields.map((f) => `${where === "body" ? "" : `${where}.`}${f.field}: ${f.message}`).join("; "),
      fields,
    );
  }
  switch (e?.code) {
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new AmendsError("VALIDATION_FAILED", "body: the body is empty; send a JSON object", [
        { field: "body", message: "required" },
      ]);
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new AmendsError("VALIDATION_FAILED", `body: not valid JSON (${e.message})`, [
        { field: "body", message: "not valid JSON" },
      ]);
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new AmendsError("PAYLOAD_TOO_LARGE", e.message, [{ field: "body", message: "too large" }]);
    case "FST_ERR_BAD_URL":
      return new AmendsError("VALIDATION_FAILED", "path: not valid percent-encoded UTF-8", [
        { field: "path", message: "not valid percent-encoded UTF-8" },
      ]);
    case "FST_ERR_MAX_PARAM_LENGTH":
      return new AmendsError("VALIDATION_FAILED", "path: a path segment is too long", [
        { field: "path", message: "a segment is too long" },
      ]);
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new AmendsError("UNSUPPORTED_MEDIA_TYPE");
  }
  if (e instanceof SyntaxError && (e as { statusCode?: number }).statusCode === 400) {
    return new AmendsError("VALIDATION_FAILED", `body: not valid JSON (${e.message})`, [
      { field: "body", message: "not valid JSON" },
    ]);
  }
  const status = (e as { statusCode?: number })?.statusCode;
  if (status && status >= 400 && status < 500) {
    const code = (Object.keys(ERROR_CATALOGUE) as ErrorCode[]).find(
      (c) => ERROR_CATALOGUE[c].status === status,
    );
    return new AmendsError(code ?? "VALIDATION_FAILED", e.message);
  }
  return undefined;
}

export function sendProblem(reply: FastifyReply, request: FastifyRequest, error: unknown) {
  const known = toAmendsError(error);
  if (!known) request.log.error({ err: error }, "unhandled error");
  const problem = problemOf(known ?? new AmendsError("INTERNAL"), request.url);
  if (problem.status === 503) reply.header("retry-after", String(RETRY_AFTER_SECONDS));
  return reply.code(problem.status).type("application/problem+json").send(problem);
}
