import type { preHandlerAsyncHookHandler } from "fastify";
import type { Db } from "../storage/database.ts";
import type { Scope } from "../tokens/store.ts";

/** What every route module gets: the database, the clock, auth, and a change signal. */
export interface ApiContext {
  db: Db;
  now: () => Date;
  auth: (scope: Scope) => preHandlerAsyncHookHandler;
  /** Called after a write that changes what a workspace's public page shows. */
  changed: (workspaceId: string) => void;
}
