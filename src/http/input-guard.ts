/**
 * Checks every request's input before any route sees it, for what no route's schema should have
 * to repeat: a NUL character anywhere (PostgreSQL and PGlite refuse it in text, so it would fail
 * half-way through a write as a 500) and JSON nested deeper than any document of ours (parsing
 * and validating it would recurse until the stack runs out). Both answer 400 naming the field.
 * Runs after authentication (onRequest), so a caller without rights still learns nothing.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { AmendsError, invalidField } from "../core/errors.ts";

/** Deeper than any request body of ours (a policy's rules nest about ten levels). */
const MAX_JSON_DEPTH = 64;
const NUL = "\u0000";

/** Where a NUL character is in `value` (walked without recursion): a dotted path ("" for `value` itself), or undefined. */
function nulPath(value: unknown): string | undefined {
  const stack: [unknown, string][] = [[value, ""]];
  while (stack.length > 0) {
    const [v, path] = stack.pop()!;
    if (typeof v === "string") {
      if (v.includes(NUL)) return path;
    } else if (Array.isArray(v)) {
      for (const [i, item] of v.entries()) stack.push([item, join(path, String(i))]);
    } else if (v !== null && typeof v === "object" && !isStream(v)) {
      for (const [k, item] of Object.entries(v)) {
        if (k.includes(NUL)) return path;
        stack.push([item, join(path, k)]);
      }
    }
  }
  return undefined;
}

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

/** A streamed body (CSV, NDJSON) is checked row by row by its reader; bytes (an image) are not text. */
const isStream = (v: object) => typeof (v as { pipe?: unknown }).pipe === "function" || ArrayBuffer.isView(v);

/** The deepest nesting of arrays and objects in JSON text, stopping once past `limit`. */
function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 /* [ */ || c === 123 /* { */) {
      if (++depth > limit) return true;
    } else if (c === 93 /* ] */ || c === 125 /* } */) depth--;
  }
  return false;
}

function refuseNul(where: "headers" | "params" | "query" | "body", path: string): never {
  const field = path || where;
  const message = "must not contain a NUL character";
  const at = where === "body" || !path ? field : `${where}.${field}`;
  throw new AmendsError("VALIDATION_FAILED", `${at}: ${message}`, [{ field, message }]);
}

/**
 * JSON as Fastify parses it (prototype poisoning refused), after a depth check on the text.
 * `keep` sees the text first, for a route that must check a signature over the exact bytes.
 */
export function installJsonParser(app: FastifyInstance, keep?: (req: FastifyRequest, text: string) => void) {
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (req, body, done) => {
    keep?.(req, body as string);
    if (jsonDepthExceeds(body as string, MAX_JSON_DEPTH))
      return done(invalidField("body", `nested more than ${MAX_JSON_DEPTH} levels deep`), undefined);
    return parseJson(req, body as string, done);
  });
}

export function installInputGuard(app: FastifyInstance): void {
  installJsonParser(app);

  app.addHook("onRequest", async (req) => {
    const path = nulPath(req.headers);
    if (path !== undefined) refuseNul("headers", path);
  });
  app.addHook("preValidation", async (req) => {
    for (const [where, value] of [
      ["params", req.params],
      ["query", req.query],
      ["body", req.body],
    ] as const) {
      const path = nulPath(value);
      if (path !== undefined) refuseNul(where, path);
    }
  });
}
