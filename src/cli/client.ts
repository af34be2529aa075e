/**
 * How CLI commands reach the API. Every data command is an API call, sent either over HTTP
 * (to `--url`, or to the local server holding the embedded database) or, when no server is
 * running, to an in-process instance of the same server via `inject`. One code path, so the
 * CLI can never do what the API would refuse. The server and the database are imported only on
 * the in-process path: a command sent to a running server loads neither.
 */
import { randomBytes } from "node:crypto";
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

function httpClient(base: string, token: string, workspace?: string): ApiClient {
  return {
    target: base,
    async request(method, path, body) {
      const res = await fetch(new URL(path, base), {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined && { "content-type": "application/json" }),
          ...(workspace && { "x-amends-workspace": workspace }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: decode(await res.text(), res.headers.get("content-type")) };
    },
    async raw(path) {
      const res = await fetch(new URL(path, base));
      return {
        status: res.status,
        body: Buffer.from(await res.arrayBuffer()),
        type: res.headers.get("content-type") ?? "",
      };
    },
    async upload(path, body, contentType) {
      const res = await fetch(new URL(path, base), {
        method: "POST",
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": contentType,
          ...(workspace && { "x-amends-workspace": workspace }),
        },
        body: Readable.toWeb(body) as ReadableStream,
        duplex: "half",
      } as RequestInit);
      return { status: res.status, body: decode(await res.text(), res.headers.get("content-type")) };
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
