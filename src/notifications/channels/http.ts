/**
 * The one HTTP helper every provider uses: a fetch with a deadline that turns network failures
 * and timeouts into plain (transient) errors, so each sender only decides what a status means.
 */

export const DEFAULT_TIMEOUT_MS = 10_000;

export interface HttpReply {
  status: number;
  headers: Headers;
  text: string;
  /** the body when it is a JSON object, else undefined */
  json: Record<string, unknown> | undefined;
}

export interface HttpRequest {
  method?: string;
  headers?: Record<string, string>;
  /** a JSON value (sent as application/json) or form fields (sent as x-www-form-urlencoded) */
  json?: unknown;
  form?: Record<string, string>;
  body?: string | Uint8Array;
  timeoutMs?: number;
}

export async function request(url: string, req: HttpRequest): Promise<HttpReply> {
  const headers: Record<string, string> = { accept: "application/json", ...req.headers };
  let body: string | Uint8Array | undefined = req.body;
  if (req.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(req.json);
  } else if (req.form) {
    headers["content-type"] = "application/x-www-form-urlencoded";
    body = new URLSearchParams(req.form).toString();
  }
  const timeoutMs = req.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, {
      method: req.method ?? "POST",
      headers,
      body,
      // never follow: a POST must not turn into a GET, nor a webhook into a hop to another host
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
    text = await res.text();
  } catch (err) {
    // DNS failures, refused connections, resets and our own deadline: all worth retrying
    const name = (err as Error).name;
    const why = name === "TimeoutError" || name === "AbortError" ? `timed out after ${timeoutMs} ms` : err;
    throw new Error(`${new URL(url).host}: ${why instanceof Error ? why.message : why}`, { cause: err });
  }
  let json: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = text ? JSON.parse(text) : undefined;
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) json = parsed as typeof json;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** A short description of a failed reply for error messages (bodies can be long HTML pages). */
export function describe(provider: string, reply: HttpReply): string {
  return `${provider} answered ${reply.status}: ${reply.text.slice(0, 300)}`;
}

/** An HTTP Basic `Authorization` header value. */
export const basicAuth = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

/** A JSON field as a string, when it is a string or a number. */
export function field(obj: unknown, ...path: string[]): string | undefined {
  let node = obj;
  for (const key of path)
    node = node && typeof node === "object" ? (node as Record<string, unknown>)[key] : undefined;
  return typeof node === "string" || typeof node === "number" ? String(node) : undefined;
}
