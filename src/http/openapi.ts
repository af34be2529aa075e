/**
 * The OpenAPI document of the JSON API under /api/v1, written for client generators: every
 * operation names itself (`operationId`, in its route) and lists the errors it can answer,
 * each an application/problem+json body. The HTML pages, feeds and the Statuspage-compatible
 * /api/v2 documents are not part of this API and stay out of it.
 */
import type { FastifyDynamicSwaggerOptions } from "@fastify/swagger";
import { jsonSchemaTransform } from "fastify-type-provider-zod";
import { ERROR_CATALOGUE } from "../core/errors.ts";

export const API_PREFIX = "/api/v1";

// Which routes say they are rate limited reaches the document as this mark on the operation.
const RATE_LIMITED = "x-amends-rate-limited";

declare module "fastify" {
  interface FastifyInstance {
    /** Every route, pages and feeds included, with its schemas: what the fuzz test walks. */
    httpSurface(): Record<string, unknown>;
  }
  interface FastifySchema {
    /** Errors an operation answers beyond those read from its shape (see `problemStatuses`). */
    "x-problems"?: readonly ProblemStatus[];
  }
}

const PROBLEM_SCHEMA = {
  type: "object",
  description: "RFC 9457 problem details, with Amends' stable error code",
  required: ["type", "title", "status", "code", "detail"],
  properties: {
    type: { type: "string", description: "urn:amends:problem:<code in lower case>" },
    title: { type: "string" },
    status: { type: "integer" },
    code: { type: "string", enum: Object.keys(ERROR_CATALOGUE) },
    detail: { type: "string" },
    instance: { type: "string" },
    errors: {
      type: "array",
      description: "The fields at fault, for bad input",
      items: {
        type: "object",
        required: ["field", "message"],
        properties: {
          field: { type: "string", description: "Dotted path, e.g. components.0.status" },
          message: { type: "string" },
          line: { type: "integer", description: "For a file (CSV row, YAML policy): where, 1-based" },
          column: { type: "integer" },
        },
      },
    },
  },
};

/** The 4xx answers of the API, by status: the same names as components/responses. */
const PROBLEM_RESPONSES = {
  400: ["BadRequest", "The request is not valid; `errors` names the fields at fault"],
  401: ["Unauthenticated", "A valid bearer token or session is required"],
  403: ["Forbidden", "This token or person may not do that (or a second approver is needed)"],
  404: ["NotFound", "No such resource in this workspace"],
  409: ["Conflict", "The request conflicts with the current state"],
  413: ["PayloadTooLarge", "The request body is too large"],
  415: ["UnsupportedMediaType", "The body is not of a type this operation reads"],
  429: ["TooManyRequests", "Too many attempts; try again later"],
} as const;
export type ProblemStatus = keyof typeof PROBLEM_RESPONSES;

interface Operation {
  security?: unknown[];
  parameters?: { in: string }[];
  requestBody?: unknown;
  responses?: Record<string, unknown>;
  [RATE_LIMITED]?: boolean;
  "x-problems"?: readonly ProblemStatus[];
}

/** What an operation can answer besides success, read from what it takes and how it is guarded. */
export function problemStatuses(method: string, op: Operation): ProblemStatus[] {
  const statuses: ProblemStatus[] = [];
  const takesInput = Boolean(op.requestBody) || (op.parameters?.length ?? 0) > 0;
  const guarded = !Array.isArray(op.security) || op.security.length > 0;
  const writes = method !== "get";
  if (takesInput) statuses.push(400);
  if (guarded) statuses.push(401, 403);
  if (op.parameters?.some((p) => p.in === "path")) statuses.push(404);
  if (writes && guarded) statuses.push(409);
  if (op.requestBody) statuses.push(413, 415);
  if (op[RATE_LIMITED]) statuses.push(429);
  for (const status of op["x-problems"] ?? []) if (!statuses.includes(status)) statuses.push(status);
  return statuses.sort((a, b) => a - b);
}

/** @fastify/swagger's options for the API document; `publicUrl` is where clients reach it. */
export function openApiOptions(version: string, publicUrl?: string): FastifyDynamicSwaggerOptions {
  return {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Amends API",
        version,
        description:
          "Components, incidents, compensation, monitors, notifications and access of one workspace. " +
          "Errors are application/problem+json (RFC 9457) with a stable `code`.",
      },
      servers: [
        publicUrl
          ? { url: publicUrl.replace(/\/+$/, ""), description: "This Amends deployment" }
          : { url: "/", description: "The server that serves this document" },
      ],
      components: {
        securitySchemes: {
          bearer: { type: "http", scheme: "bearer" },
          // The console's cookie; writes with it also need the x-csrf-token header.
          session: { type: "apiKey", in: "cookie", name: "amends_session" },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
    },
    transform(input) {
      if (!input.url.startsWith(`${API_PREFIX}/`)) return { schema: { hide: true }, url: input.url };
      const out = jsonSchemaTransform(input);
      if (!input.route.config?.rateLimit) return out;
      return { ...out, schema: { ...out.schema, [RATE_LIMITED]: true } };
    },
    transformObject(document) {
      if (!("openapiObject" in document)) return document.swaggerObject;
      const { openapiObject } = document;
      const doc = openapiObject as {
        paths?: Record<string, Record<string, Operation>>;
        components?: Record<string, unknown>;
      };
      doc.components = {
        ...doc.components,
        schemas: { ...(doc.components?.schemas as object), Problem: PROBLEM_SCHEMA },
        responses: Object.fromEntries(
          Object.values(PROBLEM_RESPONSES).map(([name, description]) => [
            name,
            {
              description,
              content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
            },
          ]),
        ),
      };
      for (const operations of Object.values(doc.paths ?? {})) {
        for (const [method, op] of Object.entries(operations)) {
          for (const status of problemStatuses(method, op)) {
            op.responses ??= {};
            op.responses[status] ??= { $ref: `#/components/responses/${PROBLEM_RESPONSES[status][0]}` };
          }
          delete op[RATE_LIMITED];
          delete op["x-problems"];
        }
      }
      return openapiObject;
    },
  };
}

/**
 * A second, internal document of the whole HTTP surface (pages, forms and feeds as well as
 * the API), never served: `app.httpSurface()`.
 */
export function httpSurfaceOptions(version: string): FastifyDynamicSwaggerOptions {
  return {
    decorator: "httpSurface",
    openapi: { openapi: "3.1.0", info: { title: "Amends HTTP surface", version } },
    transform: jsonSchemaTransform,
  };
}
