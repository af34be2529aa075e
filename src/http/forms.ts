/**
 * HTML form posts (and the form-shaped posts of Twilio callbacks and RFC 8058 one-click
 * unsubscribes) as plain fields. Both encodings a form may use are read by the WHATWG
 * `Request.formData()` parser built into Node (undici), so no hand-written multipart code:
 * `application/x-www-form-urlencoded` and `multipart/form-data` (mail clients send either).
 * A field given once is a string, a field given more than once (checkboxes) an array; files
 * are ignored.
 */
import type { FastifyInstance } from "fastify";
import { AmendsError } from "../core/errors.ts";

export type FormFields = Record<string, string | string[]>;

export async function parseForm(contentType: string, body: Buffer): Promise<FormFields> {
  let data: FormData;
  try {
    data = await new Response(body, { headers: { "content-type": contentType } }).formData();
  } catch {
    throw new AmendsError("VALIDATION_FAILED", "the form could not be read", [
      { field: "body", message: "not a well-formed form" },
    ]);
  }
  const fields: FormFields = {};
  for (const [name, value] of data) {
    if (typeof value !== "string") continue;
    const had = fields[name];
    fields[name] = had === undefined ? value : [...(Array.isArray(had) ? had : [had]), value];
  }
  return fields;
}

/** Accepts form posts in this plugin's routes (the JSON parser stays for everything else). */
export function acceptForms(app: FastifyInstance) {
  app.addContentTypeParser(
    ["application/x-www-form-urlencoded", "multipart/form-data"],
    { parseAs: "buffer" },
    async (req: { headers: Record<string, string | string[] | undefined> }, body: Buffer) =>
      parseForm(String(req.headers["content-type"] ?? ""), body),
  );
}

/** A field as one string (the first when repeated), or undefined. */
export const field = (fields: unknown, name: string): string | undefined => {
  const v = (fields as FormFields | undefined)?.[name];
  return Array.isArray(v) ? v[0] : v;
};

/** A field as a list (empty when absent). */
export const fieldList = (fields: unknown, name: string): string[] => {
  const v = (fields as FormFields | undefined)?.[name];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
};
