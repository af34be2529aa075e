/**
 * What every command handler shares: the global flags, output, and the way to the API or the
 * database. Loaded only once a command runs (never for `--help`); the database and the server
 * are imported only by the commands and transports that need them.
 */
import { databaseTarget, type Settings, serverFile, settingsFromEnv } from "../config.ts";
import type { Database } from "../storage/database.ts";
import { type ApiClient, connectApi } from "./client.ts";
import { formatProblem } from "./format.ts";
import { readServerLock } from "./server-lock.ts";

/** An error the CLI prints as it is, without a stack trace. */
export class CliError extends Error {}

export interface GlobalOptions {
  json?: boolean;
  dataDir?: string;
  databaseUrl?: string;
  url?: string;
  token?: string;
  workspace?: string;
}

let options: GlobalOptions = {};

/** main.ts hands over the parsed global flags before a command's handler runs. */
export const setGlobals = (o: GlobalOptions) => {
  options = o;
};

export const globals = (): GlobalOptions => options;

export function settings(): Settings {
  const s = settingsFromEnv();
  const g = globals();
  if (g.dataDir) s.dataDir = g.dataDir;
  if (g.databaseUrl) s.databaseUrl = g.databaseUrl;
  return s;
}

export const print = (json: unknown, human: () => string) =>
  console.log(globals().json ? JSON.stringify(json, null, 2) : human());

/** The API, over HTTP or in-process, as the flags and environment say (see client.ts). */
export function connect(): Promise<ApiClient> {
  const g = globals();
  return connectApi(settings(), {
    url: g.url ?? process.env.AMENDS_URL,
    token: g.token ?? process.env.AMENDS_TOKEN,
    workspace: g.workspace ?? process.env.AMENDS_WORKSPACE,
  });
}

/** Runs one API call through the right transport; a problem response becomes a CLI error. */
export async function api(method: string, path: string, body?: unknown): Promise<any> {
  const client: ApiClient = await connect();
  try {
    const res = await client.request(method, path, body);
    if (res.status >= 400) throw new CliError(formatProblem(res.body));
    return res.body;
  } finally {
    await client.close();
  }
}

/** Commands that need the database files themselves refuse while a server holds them. */
export async function withDatabase<T>(fn: (db: Database) => Promise<T>): Promise<T> {
  const s = settings();
  if (!s.databaseUrl) {
    const lock = readServerLock(serverFile(s));
    if (lock)
      throw new CliError(`the server (pid ${lock.pid}, ${lock.url}) holds ${s.dataDir}; stop it first`);
  }
  const { openDatabase } = await import("../storage/database.ts");
  const database = await openDatabase(databaseTarget(s));
  try {
    return await fn(database);
  } finally {
    await database.close();
  }
}
