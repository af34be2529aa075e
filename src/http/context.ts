import type { preHandlerAsyncHookHandler } from "fastify";
import type Stripe from "stripe";
import type { Database, Db } from "../storage/database.ts";
import type { Scope } from "../tokens/store.ts";

/** What every route module gets: the database, the clock, auth, and a change signal. */
export interface ApiContext {
  db: Db;
  /** For raw SQL and transactions spanning raw and drizzle queries. */
  database: Database;
  now: () => Date;
  auth: (scope: Scope) => preHandlerAsyncHookHandler;
  /** Called after a write that changes what a workspace's public page shows. */
  changed: (workspaceId: string) => void;
  /** Stripe's SDK, when STRIPE_API_KEY is set (STRIPE_API_BASE points it elsewhere, e.g. a test server). */
  stripe?: Stripe;
}
