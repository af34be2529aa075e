/**
 * A store for @fastify/rate-limit in the database: every app process behind the same
 * PostgreSQL counts the same attempts, where the plugin's own store counts per process (and
 * N processes would allow N times the guesses).
 */
import type { FastifyRateLimitStore } from "@fastify/rate-limit";
import type { Database } from "../storage/database.ts";

/**
 * Counts one attempt for `key` in a fixed window: the first attempt opens it, later ones add
 * to it until it ends. Returns the count so far and the milliseconds left. Windows that have
 * ended are deleted on the way, so the table holds only live counts (keys name addresses and
 * e-mails).
 */
async function countAttempt(
  database: Database,
  key: string,
  windowMs: number,
  now: Date,
): Promise<{ current: number; ttl: number }> {
  const [row] = await database.query<{ hits: number; window_end: Date }>(
    // The clean-up skips rows another attempt holds: it never waits, so it cannot deadlock.
    `with expired as (
       delete from rate_limit_hits where key in (select key from rate_limit_hits
         where window_end <= $2 and key <> $1 limit 100 for update skip locked))
     insert into rate_limit_hits as r (key, hits, window_end) values ($1, 1, $3)
     on conflict (key) do update set
       hits = case when r.window_end <= $2 then 1 else r.hits + 1 end,
       window_end = case when r.window_end <= $2 then excluded.window_end else r.window_end end
     returning hits, window_end`,
    [key, now.toISOString(), new Date(now.getTime() + windowMs).toISOString()],
  );
  return { current: row!.hits, ttl: new Date(row!.window_end).getTime() - now.getTime() };
}

/** A store class for the plugin's `store` option, counting in `database`. */
export function databaseRateLimitStore(database: Database, now: () => Date) {
  return class DatabaseStore implements FastifyRateLimitStore {
    constructor(
      _options?: unknown,
      private readonly prefix = "",
    ) {}

    incr(
      key: string,
      callback: (error: Error | null, result?: { current: number; ttl: number }) => void,
      timeWindow: number,
    ): void {
      countAttempt(database, this.prefix + key, timeWindow, now()).then(
        (result) => callback(null, result),
        (error: Error) => callback(error),
      );
    }

    /** Each limited route counts apart, as the plugin's own store does. */
    child(options: Parameters<FastifyRateLimitStore["child"]>[0]): FastifyRateLimitStore {
      // At run time the plugin hands the route over as `routeInfo` (not as its typings say).
      const route = (options as { routeInfo?: { method?: unknown; url?: unknown } }).routeInfo ?? {};
      return new DatabaseStore(undefined, `${String(route.method ?? "")} ${String(route.url ?? "")}|`);
    }
  };
}

/**
 * The same count for limits checked inside a handler, where the key is known only there (a
 * phone number's prefix) or is shared by several routes (the API's and the page's subscribe).
 */
export class DatabaseLimiter {
  constructor(
    private readonly database: Database,
    private readonly name: string,
    private readonly max: number,
    private readonly windowMs: number,
  ) {}

  /** Counts one attempt; false once `max` were counted in the window. */
  async take(key: string, now: Date): Promise<boolean> {
    const { current } = await countAttempt(this.database, `${this.name}|${key}`, this.windowMs, now);
    return current <= this.max;
  }
}
