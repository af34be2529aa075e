/**
 * Who an event reaches, as SQL over the workspace's own tables, so a million recipients are
 * paged in the database and never held in memory:
 *  - confirmed subscribers whose scope (components, regions, or the whole page) matches, and
 *    those following the event's one incident,
 *  - customers the failure touches (home region, a plan that depends on the failed components,
 *    or a usage session on them open during the incident), when the workspace allows it, even
 *    if they never subscribed,
 *  - the team.
 * Direct messages (a customer's compensation notice) name their one recipient.
 * Suppressed addresses and, when SMS is a paid add-on, unentitled SMS recipients are left out.
 */
import { listComponents } from "../components/store.ts";
import { type Audience, reachesAudience } from "../core/audiences.ts";
import { type EventScope, eventScope } from "../core/notifications.ts";
import { listPages, visibleToPublic } from "../status-page/pages.ts";
import type { Database } from "../storage/database.ts";
import type { NotificationSettings } from "./settings.ts";

export interface OutboxEvent {
  workspaceId: string;
  id: string;
  idempotencyKey: string;
  event: string;
  customerId: string | null;
  channel: string | null;
  address: string | null;
  locale: string;
  payload: Record<string, unknown>;
  createdAt: Date;
}

/**
 * Where recipients come from: SQL selecting (recipient, channel, address, locale, key) from `w`, a
 * window of `table`'s rows in primary-key order. Paging walks the window over the key, so each
 * page is an index range scan whatever the filters, and a million rows are never sorted.
 * A direct message has no table: one row, one page.
 */
interface Source {
  table: "subscribers" | "customers" | null;
  sql: string;
  params: unknown[];
}

/** Whether an event may reach an audience: the table in core/audiences.ts, narrowed by the event's own list. */
export const reaches = (e: Pick<OutboxEvent, "event" | "payload">, who: Audience) =>
  reachesAudience(e.event, e.payload, who);

export async function scopeOf(database: Database, e: OutboxEvent): Promise<EventScope | undefined> {
  const affected = (e.payload.components ?? []) as string[];
  if (affected.length === 0) return undefined;
  const [components, pages] = await Promise.all([
    listComponents(database.db, e.workspaceId),
    listPages(database.db, e.workspaceId),
  ]);
  return eventScope(components, affected, visibleToPublic(components, pages));
}

/** Whether an event is posted to the company's social accounts: never what only private pages show. */
export const postsToSocial = (e: OutboxEvent, scope: EventScope | undefined) =>
  !e.customerId && reaches(e, "social") && scope?.public !== false;

const notSuppressed = (channel: string, address: string) =>
  `not exists (select 1 from suppressions x where x.workspace_id = $1 and x.channel = ${channel} and x.address = ${address})`;

/** The SQL sources of an event's audience, each paged by its own key. */
export function sources(
  e: OutboxEvent,
  scope: EventScope | undefined,
  settings: NotificationSettings,
): Source[] {
  if (e.customerId) {
    if (!reaches(e, "customers")) return [];
    return [
      {
        table: null,
        sql: `select 'customer:' || $2::text as recipient, $3::text as channel, $4::text as address, $5::text as locale, $2::text as key,
                      null::text as time_zone
               where $3::text is not null and $4::text is not null and ${notSuppressed("$3", "$4")}`,
        params: [e.workspaceId, e.customerId, e.channel, e.address, e.locale],
      },
    ];
  }
  const components = [...(scope?.components ?? [])];
  const regions = [...(scope?.regions ?? [])];
  const out: Source[] = [];
  // Webhook subscribers are an audience of their own: the table may tell people but not machines, or both.
  const [people, machines] = [reaches(e, "subscribers"), reaches(e, "webhooks")];
  // What only private pages show ($6 false) reaches only those who chose one of its components.
  if (people || machines)
    out.push({
      table: "subscribers",
      sql: `select 'subscriber:' || s.id as recipient, s.channel, s.address, s.locale, s.id as key,
                   s.quiet_hours->>'time_zone' as time_zone
              from w s
             where s.confirmed_at is not null and s.unsubscribed_at is null
               and ((s.incident_id is null
                     and (($6::boolean and ((cardinality(s.components) = 0 and cardinality(s.regions) = 0)
                                              or s.components && $2::text[] or s.regions && $3::text[]))
                          or (not $6::boolean and s.components && $5::text[])))
                    -- one who follows one incident hears of that incident only
                    or s.incident_id = $7::text)
               and (s.channel <> 'sms' or not $4::boolean or s.sms_entitled)
               ${people && machines ? "" : people ? "and s.channel <> 'webhook'" : "and s.channel = 'webhook'"}
               and ${notSuppressed("s.channel", "s.address")}`,
      params: [
        e.workspaceId,
        components,
        regions,
        settings.sms.entitlement_required,
        [...(scope?.hidden ?? [])],
        scope?.public ?? true,
        typeof e.payload.incident_id === "string" ? e.payload.incident_id : null,
      ],
    });
  if (settings.notify_affected_customers && scope && reaches(e, "customers")) {
    // A customer is told on the first of their free channels (e-mail, push…) that is not
    // suppressed, and by SMS too when they get SMS: they bought it (sms_entitled), or SMS is not a
    // paid add-on and it is the first channel they gave. With sms.also_email off, an SMS
    // recipient gets the SMS alone.
    out.push({
      table: "customers",
      sql: `select 'customer:' || c.id as recipient, ch.v->>'type' as channel, ch.v->>'address' as address,
                   c.locale, c.id as key, null::text as time_zone
              from w c
             cross join lateral (
                   select v from (
                     select v, sms, gets_sms, row_number() over (partition by sms, gets_sms order by i) as nth,
                            bool_or(gets_sms) over () as any_sms
                       from (
                         select v, i, v->>'type' = 'sms' as sms,
                                v->>'type' = 'sms' and (c.sms_entitled or (not $4::boolean and i = min(i) over ())) as gets_sms
                           from jsonb_array_elements(c.channels) with ordinality as e(v, i)
                          where ${notSuppressed("v->>'type'", "v->>'address'")}) mine) ranked
                    where nth = 1 and (gets_sms or (not sms and ($8::boolean or not any_sms)))) ch
             where (c.home_region = any($3::text[]) or c.plan = any($7::text[])
                    or exists (select 1 from usage_sessions u
                                where u.workspace_id = c.workspace_id and u.customer_id = c.id
                                  and (u.component_id = any($2::text[]) or u.region = any($3::text[]))
                                  and u.started_at < $6 and (u.ended_at is null or u.ended_at > $5))
                    -- stuck: an attempt on a failed part failed, up to an hour before the incident was
                    -- opened (a signal monitor confirms within its window of at most an hour)
                    or exists (select 1 from usage_events ev
                                where ev.workspace_id = c.workspace_id and ev.type = 'session_failed'
                                  and ev.at >= $5::timestamptz - interval '1 hour' and ev.at < $6
                                  and ev.customer_id = c.id
                                  and (ev.component_id = any($2::text[]) or ev.region = any($3::text[]))))`,
      params: [
        e.workspaceId,
        components,
        regions,
        settings.sms.entitlement_required,
        String(e.payload.started_at ?? e.createdAt.toISOString()),
        e.createdAt.toISOString(),
        affectedPlans(settings, scope),
        settings.sms.also_email,
      ],
    });
  }
  return out;
}

/** A source narrowed to the SMS, or to every channel but SMS (the free ones). */
export const byChannel = (source: Source, part: "sms" | "free"): Source => ({
  ...source,
  sql: `select * from (${source.sql}) by_channel where channel ${part === "sms" ? "=" : "<>"} 'sms'`,
});

/** Plans whose components (settings.plan_components) touch the failure. */
export const affectedPlans = (settings: NotificationSettings, scope: EventScope) =>
  Object.entries(settings.plan_components)
    .filter(([, ids]) => ids.some((id) => scope.components.has(id)))
    .map(([plan]) => plan)
    .sort();

/** Team recipients from the settings, as literal rows. */
export const teamRecipients = (settings: NotificationSettings) =>
  settings.team.map((t, i) => ({
    recipient: `team:${i}`,
    channel: t.channel,
    address: t.address,
    locale: t.locale,
  }));

/**
 * Inserts the next page of one source as queued deliveries (existing ones are left alone) and
 * returns the page's recipients and its last key; an empty page ends the source.
 */
export async function insertPage(
  database: Database,
  e: OutboxEvent,
  source: Source,
  after: string,
  limit: number,
  now: Date,
): Promise<{ recipients: string[]; last: string | null }> {
  const n = source.params.length;
  if (!source.table && after) return { recipients: [], last: null };
  const window = source.table
    ? `w as (select * from ${source.table} where workspace_id = $1 and id > $${n + 1} order by id limit $${n + 2}),`
    : "";
  const rows = await database.query<{ recipients: string[] | null; last: string | null }>(
    `with ${window}
     page as (${source.sql}),
     inserted as (
       insert into deliveries (workspace_id, event_id, recipient, channel, address, locale, status, updated_at)
       select $1, $${n + 3}, recipient, channel, address, locale, 'queued', $${n + 4} from page
       on conflict do nothing
     )
     select array_agg(distinct recipient order by recipient) as recipients,
            ${source.table ? "(select max(id) from w)" : "'direct'"} as last from page`,
    [...source.params, after, limit, e.id, now.toISOString()],
  );
  return { recipients: rows[0]?.recipients ?? [], last: rows[0]?.last ?? null };
}

/**
 * SMS recipients alike for the price: the same country prefix (libphonenumber names the country
 * from `address`), the same language and time zone (a subscriber's own, given with their quiet
 * hours), and the same length of what their unsubscribe link signs, so one rendering per group
 * is every message of the group to the character.
 */
export interface SmsGroup {
  recipient: string;
  address: string;
  locale: string;
  time_zone: string | null;
  n: number;
}

/** Recipients per channel, and SMS recipients in groups (for the cost estimate), without writing anything. */
export async function countAudience(
  database: Database,
  e: OutboxEvent,
  scope: EventScope | undefined,
  settings: NotificationSettings,
): Promise<{ byChannel: Record<string, number>; sms: SmsGroup[] }> {
  const byChannel: Record<string, number> = {};
  const sms: SmsGroup[] = [];
  for (const source of sources(e, scope, settings)) {
    const all = (sql: string) =>
      source.table ? `with w as (select * from ${source.table} where workspace_id = $1) ${sql}` : sql;
    const rows = await database.query<{ channel: string; n: number }>(
      all(`select channel, count(*)::int as n from (${source.sql}) src group by channel`),
      source.params,
    );
    for (const r of rows) byChannel[r.channel] = (byChannel[r.channel] ?? 0) + r.n;
    if (rows.some((r) => r.channel === "sms")) {
      // A few hundred groups for a million numbers: prefixes, languages and id lengths are few.
      sms.push(
        ...(await database.query<SmsGroup>(
          all(`select min(recipient) as recipient, min(address) as address, coalesce(locale, '') as locale,
                      time_zone, count(*)::int as n
                 from (${source.sql}) src where channel = 'sms'
                group by left(regexp_replace(address, '[^0-9+]', '', 'g'), 6), coalesce(locale, ''), time_zone,
                         octet_length(to_json(recipient)::text), octet_length(to_json(address)::text)`),
          source.params,
        )),
      );
    }
  }
  if (reaches(e, "team"))
    for (const t of teamRecipients(settings)) byChannel[t.channel] = (byChannel[t.channel] ?? 0) + 1;
  return { byChannel, sms };
}
