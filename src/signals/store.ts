/**
 * Usage events: stored once by id, counted per window for signal monitors, and read back as the
 * customers an outage leaves stuck.
 */
import { listComponents } from "../components/store.ts";
import { subtreesOf } from "../core/components.ts";
import { AmendsError, type FieldError } from "../core/errors.ts";
import { type SignalInput, type SignalSpec, STUCK_MINUTES, signalWindows } from "../core/signals.ts";
import type { Database } from "../storage/database.ts";

export interface UsageEventInput {
  id: string;
  type: string;
  at: Date;
  customerId: string;
  sessionId?: string;
  componentId?: string;
  region?: string;
}

/** Stores a batch, each event once: a replayed batch stores nothing. Returns the new ones. */
export async function storeUsageEvents(
  database: Database,
  ws: string,
  events: readonly UsageEventInput[],
): Promise<UsageEventInput[]> {
  const fresh = new Set<string>();
  // One statement per few thousand rows, through arrays: the batch is written whole or not at all.
  await database.transaction(async (tx) => {
    for (let i = 0; i < events.length; i += 5_000) {
      const chunk = events.slice(i, i + 5_000);
      const rows = await tx.query<{ id: string }>(
        `insert into usage_events (workspace_id, id, type, at, customer_id, session_id, component_id, region)
         select $1, * from unnest($2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::text[])
         on conflict do nothing returning id`,
        [
          ws,
          chunk.map((e) => e.id),
          chunk.map((e) => e.type),
          chunk.map((e) => e.at.toISOString()),
          chunk.map((e) => e.customerId),
          chunk.map((e) => e.sessionId ?? null),
          chunk.map((e) => e.componentId ?? null),
          chunk.map((e) => e.region ?? null),
        ],
      );
      for (const r of rows) fresh.add(r.id);
    }
  });
  return events.filter((e) => fresh.has(e.id));
}

/** Duplicate ids within one batch are the sender's mistake, named by line. */
export function checkUniqueIds(events: readonly { id: string }[]) {
  const seen = new Map<string, number>();
  const fields: FieldError[] = [];
  events.forEach((e, i) => {
    const first = seen.get(e.id);
    if (first !== undefined)
      fields.push({
        field: "id",
        line: i + 1,
        message: `line ${i + 1}: id "${e.id}" already on line ${first + 1}`,
      });
    else seen.set(e.id, i);
  });
  if (fields.length)
    throw new AmendsError(
      "VALIDATION_FAILED",
      fields
        .slice(0, 10)
        .map((f) => f.message)
        .join("; "),
      fields.slice(0, 10),
    );
}

export interface SignalScope {
  /** the components whose events count, descendants included; null: every component */
  components: string[] | null;
  region?: string;
  /** events (the default): the ingest; sessions: the usage sessions imported for compensation */
  source?: "events" | "sessions";
}

/** A monitor's scope with its components widened to their descendants, once for all its counts. */
export async function resolveScope(
  database: Database,
  ws: string,
  componentIds: readonly string[],
  rest: Omit<SignalScope, "components"> = {},
): Promise<SignalScope> {
  const components = componentIds.length
    ? [...subtreesOf(await listComponents(database.db, ws), componentIds)]
    : null;
  return { components, ...rest };
}

/** What one signal check counts, in one statement: now and the same window in past weeks, with levels. */
export async function signalInput(
  database: Database,
  ws: string,
  spec: SignalSpec,
  scope: SignalScope,
  at: Date,
): Promise<SignalInput> {
  const w = signalWindows(at.getTime(), spec);
  const windows = [w.now, ...w.past];
  const iso = (ms: number) => new Date(ms).toISOString();
  // The imported sessions serve as well: a start is a session's started_at, an end its ended_at.
  const [table, column, type] =
    scope.source === "sessions"
      ? ([
          "usage_sessions",
          spec.event === "session_started" ? "started_at" : "ended_at",
          "$2::text is not null",
        ] as const)
      : (["usage_events", "at", "e.type = $2"] as const);
  // Failed attempts count the customers still stuck at the window's end, for STUCK_MINUTES at
  // least: one whose retry worked a minute later was unlucky, not cut off.
  const stuckOnly =
    spec.event === "session_failed" && scope.source !== "sessions"
      ? `and e.at <= r.e - interval '${STUCK_MINUTES} minutes'
         and not exists (select 1 from usage_events d where d.workspace_id = e.workspace_id and d.type = 'session_ended'
                           and d.customer_id = e.customer_id and d.at > e.at and d.at < r.e)`
      : "";
  const filter = `e.workspace_id = $1 and ${type} and ($3::text is null or e.region = $3)
                  and ($4::text[] is null or e.component_id = any($4::text[]))`;
  const rows = await database.query<{ i: string; events: number; customers: number; level: number }>(
    `select r.i::text as i,
            (select count(*)::int from ${table} e where ${filter} and e.${column} >= r.s and e.${column} < r.e) as events,
            (select count(distinct e.customer_id)::int from ${table} e where ${filter} and e.${column} >= r.s and e.${column} < r.e
                ${stuckOnly}) as customers,
            (select count(*)::int from ${table} e where ${filter} and e.${column} >= r.ls and e.${column} < r.s) as level
       from unnest($5::timestamptz[], $6::timestamptz[], $7::timestamptz[]) with ordinality as r(s, e, ls, i)
      order by r.i`,
    [
      ws,
      spec.event,
      scope.region ?? null,
      scope.components,
      windows.map((x) => iso(x.start)),
      windows.map((x) => iso(x.end)),
      windows.map((x) => iso(x.levelStart)),
    ],
  );
  const [now, ...past] = rows.map((r) => ({
    window: { events: Number(r.events), customers: Number(r.customers) },
    level: Number(r.level),
  }));
  return { now: now!.window, level: now!.level, past };
}

/**
 * Customers stuck now: whose attempt in the scope failed since `since`, with no session ended
 * after it (the same session, when the event named one). They are the affected customers of the
 * incident while it is open. At most `limit` ids, with the count of all.
 */
export async function stuckCustomers(
  database: Database,
  ws: string,
  scope: SignalScope,
  since: Date,
  limit = 10,
): Promise<{ count: number; ids: string[] }> {
  const rows = await database.query<{ customer_id: string; n: number }>(
    `select customer_id, count(*) over ()::int as n from (
       select distinct f.customer_id from usage_events f
        where f.workspace_id = $1 and f.type = 'session_failed' and f.at >= $2
          and ($3::text is null or f.region = $3) and ($4::text[] is null or f.component_id = any($4::text[]))
          and not exists (select 1 from usage_events d
                           where d.workspace_id = f.workspace_id and d.type = 'session_ended' and d.customer_id = f.customer_id
                             and d.at > f.at and (f.session_id is null or d.session_id = f.session_id))) stuck
      order by customer_id limit $5`,
    [ws, since.toISOString(), scope.region ?? null, scope.components, limit],
  );
  return { count: Number(rows[0]?.n ?? 0), ids: rows.map((r) => r.customer_id) };
}
