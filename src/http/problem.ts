/**
 * Every error leaves the API as application/problem+json (RFC 9457) with our stable `code`
 * and, for bad input, the fields at fault. Unknown errors are logged and become a bare 500.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";
import { AmendsError, ERROR_CATALOGUE, type ErrorCode, type FieldError } from "../core/errors.ts";

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

/** Maps anything thrown while handling a request to one of our catalogue's errors. */
export function toAmendsError(error: unknown): AmendsError | undefined {
  if (error instanceof AmendsError) return error;
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
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new AmendsError("UNSUPPORTED_MEDIA_TYPE");
    case "23505": // unique_violation: a concurrent writer won the race for the same key
      return new AmendsError("CONFLICT", "something with the same key already exists");
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
  return reply.code(problem.status).type("application/problem+json").send(problem);
}
