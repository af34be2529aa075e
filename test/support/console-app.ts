/**
 * A real server on a local port for driving the console in a browser: a fresh PGlite
 * database, one workspace, a bearer token for seeding data, and the first-run setup link.
 */
import type { FastifyInstance } from "fastify";
import { createOneTimeToken } from "../../src/access/users.ts";
import { buildServer } from "../../src/http/server.ts";
import type { Database } from "../../src/storage/database.ts";
import { createToken } from "../../src/tokens/store.ts";
import { createWorkspace } from "../../src/workspaces/store.ts";
import { freshDatabase } from "./backends.ts";

export interface ConsoleApp {
  app: FastifyInstance;
  database: Database;
  base: string;
  /** Bearer token of the workspace, for seeding through the API. */
  token: string;
  /** The one-time first-run link `npm start` prints on an empty database. */
  setupUrl: string;
  close(): Promise<void>;
}

export async function startConsoleApp(): Promise<ConsoleApp> {
  const database = await freshDatabase("pglite");
  const ws = await createWorkspace(database.db, {
    slug: "fleet",
    name: "The Fleet",
    timeZone: "Europe/Rome",
  });
  const { secret } = await createToken(database.db, { workspaceId: ws.id, name: "seed" });
  const app = await buildServer({ database });
  // The same one-time token `amends serve` prints on a database without users.
  const token = await createOneTimeToken(database.db, { kind: "setup", workspaceId: ws.id }, new Date());
  const setupPath = `/admin/setup?token=${token}`;
  const base = await app.listen({ port: 0, host: "127.0.0.1" });
  return {
    app,
    database,
    base,
    token: secret,
    setupUrl: `${base}${setupPath}`,
    async close() {
      // The browser's keep-alive sockets would hold the close for the idle timeout.
      app.server.closeAllConnections();
      await app.close();
      await database.close();
    },
  };
}
