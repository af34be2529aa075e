/** Settings from the environment, overridable by CLI flags. */
import { join, resolve } from "node:path";
import type { DatabaseTarget } from "./storage/database.ts";

export interface Settings {
  databaseUrl?: string;
  dataDir: string;
  port: number;
  host: string;
}

export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): Settings {
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: resolve(env.AMENDS_DATA_DIR || "data"),
    port: Number(env.PORT || 3000),
    host: env.HOST || "127.0.0.1",
  };
}

/** PostgreSQL when a URL is set, else PGlite in `<dataDir>/pglite`. */
export function databaseTarget(s: Settings): DatabaseTarget {
  return s.databaseUrl ? { url: s.databaseUrl } : { dataDir: join(s.dataDir, "pglite") };
}

/** Written by a server that holds an embedded database, so the CLI talks to it instead. */
export const serverFile = (s: Settings) => join(s.dataDir, "server.json");

/**
 * Monitors may check private addresses (loopback, RFC 1918, link-local, CGNAT, ULA…) only when
 * the operator says so (AMENDS_MONITORS_ALLOW_PRIVATE=1): otherwise whoever may write monitors
 * could probe the server's own network.
 */
export const monitorsAllowPrivate = (env: NodeJS.ProcessEnv = process.env) =>
  env.AMENDS_MONITORS_ALLOW_PRIVATE === "1";
