/**
 * How CLI commands reach the API. Every data command is an API call, sent either over HTTP
 * (to `--url`, or to the local server holding the embedded database) or, when no server is
 * running, to an in-process instance of the same server via `inject`. One code path, so the
 * CLI can never do what the API would refuse. The server and the database are imported only on
 * the in-process path: a command sent to a running server loads neither.
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { databaseTarget, type Settings, serverFile } from "../config.ts";
import { readServerLock } from "./server-lock.ts";

export interface ApiResponse {
  status: number;
  body: any;
}

export interface ApiClient {
  /** Where the requests go, for messages. */
  target: string;
  request(method: string, path: string, body?: unknown): Promise<ApiResponse>;
  /** A public document as bytes, untouched (for static copies). */
  raw(path: string): Promise<{ status: number; body: Buffer; type: string }>;
  /** Sends a stream as the body (file imports), never holding it whole. */
  upload(path: string, body: Readable, contentType: string): Promise<ApiResponse>;
  close(): Promise<void>;
}

export interface ClientOptions {
  url?: string;
  token?: string;
  workspace?: string;
}

/** JSON bodies are parsed; anything else (CSV exports) stays text. */
const decode = (text: string, type: string | null | undefined) =>
  !text ? undefined : /json/.test(type ?? "") ? JSON.parse(text) : text;

interface Exchange {
  status: number;
  type: string;
  body: Buffer;
}

/**
 * One HTTP exchange over node:http(s) rather than fetch: undici's start-up and keep-alive pool cost
 * a one-shot command about 0.2 s and 40 MB before it can exit. Redirects are followed as fetch
 * follows them (303, and 301/302 after a POST, become a GET without a body; the token goes to the
 * same origin only); a streamed body cannot be sent twice, so its 307/308 is returned as it is.
 */
async function exchange(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body?: string | Readable,
  redirects = 0,
): Promise<Exchange> {
  const { request } = url.protocol === "https:" ? await import("node:https") : await import("node:http");
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = request(url, { method, headers }, resolve);
    req.on("error", reject);
    if (body instanceof Readable) {
      body.on("error", (err) => req.destroy(err));
      body.pipe(req);
    } else req.end(body);
  });
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  const status = res.statusCode ?? 0;
  const location = res.headers.location;
  if (location && [301, 302, 303, 307, 308].includes(status) && redirects < 20) {
    const next = new URL(location, url);
    const asGet =
      (status === 303 && method !== "GET" && method !== "HEAD") ||
      ((status === 301 || status === 302) && method === "POST");
    if (asGet || !(body instanceof Readable)) {
      const { authorization, "content-type": type, ...rest } = headers;
      return exchange(
        next,
        asGet ? "GET" : method,
        {
          ...rest,
          ...(authorization !== undefined && next.origin === url.origin && { authorization }),
          ...(type !== undefined && !asGet && { "content-type": type }),
        },
        asGet ? undefined : body,
        redirects + 1,
      );
    }
  }
  return { status, type: res.headers["content-type"] ?? "", body: Buffer.concat(chunks) };
}

function httpClient(base: string, token: string, workspace?: string): ApiClient {
  const api = (type?: string) => ({
    authorization: `Bearer ${token}`,
    ...(type && { "content-type": type }),
    ...(workspace && { "x-amends-workspace": workspace }),
  });
  const answer = (res: Exchange) => ({ status: res.status, body: decode(res.body.toString(), res.type) });
  return {
    target: base,
    async request(method, path, body) {
      const json = body === undefined ? undefined : JSON.stringify(body);
      return answer(
        await exchange(
          new URL(path, base),
          method,
          api(json === undefined ? undefined : "application/json"),
          json,
        ),
      );
    },
    // The headers fetch sent, so the public page negotiates exactly as it did.
    raw: (path) => exchange(new URL(path, base), "GET", { accept: "*/*", "accept-language": "*" }),
    async upload(path, body, contentType) {
      return answer(await exchange(new URL(path, base), "POST", api(contentType), body));
    },
    close: async () => {},
  };
}

function injectClient(
  app: FastifyInstance,
  secret: string,
  target: string,
  workspace: string | undefined,
  close: () => Promise<void>,
): ApiClient {
  return {
    target,
    async request(method, path, body) {
      const res = await app.inject({
        method: method as "GET",
        url: path,
        headers: { authorization: `Bearer ${secret}`, ...(workspace && { "x-amends-workspace": workspace }) },
        ...(body !== undefined && { payload: body as object }),
      });
      return { status: res.statusCode, body: decode(res.body, res.headers["content-type"] as string) };
    },
    async raw(path) {
      const res = await app.inject({ method: "GET", url: path });
      return {
        status: res.statusCode,
        body: res.rawPayload,
        type: String(res.headers["content-type"] ?? ""),
      };
    },
    async upload(path, body, contentType) {
      const res = await app.inject({
        method: "POST",
        url: path,
        headers: {
          authorization: `Bearer ${secret}`,
          "content-type": contentType,
          ...(workspace && { "x-amends-workspace": workspace }),
        },
        payload: body,
      });
      return { status: res.statusCode, body: decode(res.body, res.headers["content-type"] as string) };
    },
    close,
  };
}

export async function connectApi(settings: Settings, options: ClientOptions): Promise<ApiClient> {
  // Without a token only the public page can be read; the API will say so.
  if (options.url) return httpClient(options.url, options.token ?? "", options.workspace);
  if (!settings.databaseUrl) {
    const lock = readServerLock(serverFile(settings));
    if (lock) return httpClient(lock.url, options.token ?? lock.secret, options.workspace);
  }
  const [{ openDatabase }, { buildServer }] = await Promise.all([
    import("../storage/database.ts"),
    import("../http/server.ts"),
  ]);
  const database = await openDatabase(databaseTarget(settings));
  const secret = randomBytes(32).toString("base64url");
  const app = await buildServer({ database, localSecret: secret });
  await app.ready();
  return injectClient(
    app,
    options.token ? options.token : secret,
    database.kind === "pglite" ? "embedded database" : "PostgreSQL",
    options.workspace,
    async () => {
      await app.close();
      await database.close();
    },
  );
}
