import type { FastifyInstance } from "fastify";
import { expect } from "vitest";
import { buildServer } from "../../src/http/server.ts";
import type { ChannelRegistry } from "../../src/notifications/channels/index.ts";
import type { ReceiptSettings } from "../../src/notifications/routes.ts";
import type { S3Target } from "../../src/status-page/s3-publish.ts";
import type { Database } from "../../src/storage/database.ts";
import { createToken } from "../../src/tokens/store.ts";
import { createWorkspace } from "../../src/workspaces/store.ts";
import { type BackendName, freshDatabase } from "./backends.ts";

export interface TestApp {
  app: FastifyInstance;
  database: Database;
  workspaceId: string;
  token: string;
  /** JSON request with the workspace's token. */
  call(
    method: string,
    url: string,
    body?: unknown,
  ): Promise<{ status: number; json: any; headers: Record<string, unknown> }>;
  close(): Promise<void>;
}

export async function startTestApp(
  backend: BackendName,
  options: { now?: () => Date; channels?: ChannelRegistry; receipts?: ReceiptSettings; s3?: S3Target } = {},
): Promise<TestApp> {
  const database = await freshDatabase(backend);
  const ws = await createWorkspace(database.db, {
    slug: "fleet",
    name: "The Fleet",
    timeZone: "Europe/Rome",
  });
  const { secret } = await createToken(database.db, { workspaceId: ws.id, name: "test" });
  const app = await buildServer({ database, ...options });
  await app.ready();
  return {
    app,
    database,
    workspaceId: ws.id,
    token: secret,
    async call(method, url, body) {
      const res = await app.inject({
        method: method as "GET",
        url,
        headers: { authorization: `Bearer ${secret}` },
        ...(body !== undefined && { payload: body as object }),
      });
      let json: unknown;
      try {
        json = res.json();
      } catch {
        json = res.body;
      }
      return { status: res.statusCode, json, headers: res.headers };
    },
    async close() {
      await app.close();
      await database.close();
    },
  };
}

/** A CSV import through the API, as a company uploads it; insists it was accepted. */
export async function importCsv(t: TestApp, kind: "customers" | "sessions" | "charges", csv: string) {
  const res = await t.app.inject({
    method: "POST",
    url: `/api/v1/import/${kind}`,
    payload: csv,
    headers: { authorization: `Bearer ${t.token}`, "content-type": "text/csv" },
  });
  expect(res.statusCode, res.body).toBe(200);
}
