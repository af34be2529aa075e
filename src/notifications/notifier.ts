/**
 * The notifications worker: turns outbox events into deliveries, on pg-boss.
 *
 *   outbox event ──dispatch──▶ estimate (confirm when over the threshold) ──▶ fanout job
 *   fanout job ──pages the audience──▶ delivery rows + one send job per chunk of recipients
 *   send job ──▶ providers (rate-limited, retried with backoff and jitter, failed over)
 *
 * Any number of processes run it on PostgreSQL; on PGlite it runs inside the server. Every step
 * is keyed by what it means (job ids from event and chunk, deliveries by event, recipient and
 * channel), so a crash anywhere repeats work without sending twice.
 */
import { parsePhoneNumberFromString } from "libphonenumber-js";
import type PgBoss from "pg-boss";
import { currencyExponent } from "../core/money.ts";
import { estimate, smsSegments } from "../core/notifications.ts";
import { every } from "../incidents/reminders.ts";
import { newId } from "../lib/ids.ts";
import type { Database } from "../storage/database.ts";
import {
  byChannel,
  countAudience,
  insertPage,
  type OutboxEvent,
  postsToSocial,
  reaches,
  scopeOf,
  sources,
  teamRecipients,
} from "./audience.ts";
import { type ChannelRegistry, closeChannels } from "./channels/index.ts";
import { channelText, recipientContext } from "./compose.ts";
import {
  type Chunk,
  chunkParams,
  type DeliveryContext,
  IN_CHUNK,
  releaseHeld,
  sendChunk,
} from "./deliver.ts";
import { jobId, QUEUES, type QueueTuning, startQueue } from "./queue.ts";
import { sharedThrottle } from "./rate-limits.ts";
import { loadNotificationSettings } from "./settings.ts";
import { renderMessage, withUnsubscribe } from "./templates.ts";

/** Recipients per send job: big enough that the queue is not the bottleneck, small enough to retry cheaply. */
export const CHUNK = 500;
/** NOTIFY channel on which a new outbox event wakes the dispatchers at once. */
export const OUTBOX_CHANNEL = "amends_outbox";

export interface NotifierOptions {
  channels: ChannelRegistry;
  now?: () => Date;
  /** messages per second per provider, across all processes (e.g. {twilio: 50}); unlimited when absent */
  rateLimits?: Record<string, number>;
  /** concurrent send jobs in this process */
  workers?: number;
  /** messages in flight at once within one send job */
  parallel?: number;
  /** how soon work orphaned by a killed process is taken up again */
  queue?: QueueTuning;
  /** an event claimed by a dispatcher this long ago without progress is claimed again (default 20) */
  reclaimAfterSeconds?: number;
  /**
   * A send or fan-out whose worker stopped renewing it this long ago is taken up again by any
   * other (default 20): work a killed process held resumes within about this, not at the
   * queue's expiry.
   */
  leaseSeconds?: number;
}

export interface Notifier {
  boss: PgBoss;
  /** runs the dispatcher now (tests, and after a write that queued an event) */
  dispatch(): Promise<number>;
  /** releases held messages that are due now */
  release(): Promise<number>;
  stop(): Promise<void>;
}

type EventRow = {
  workspace_id: string;
  id: string;
  idempotency_key: string;
  event: string;
  customer_id: string | null;
  channel: string | null;
  address: string | null;
  locale: string;
  payload: Record<string, unknown>;
  created_at: Date;
  confirmed_at?: Date | null;
};
const toEvent = (r: EventRow): OutboxEvent => ({
  workspaceId: r.workspace_id,
  id: r.id,
  idempotencyKey: r.idempotency_key,
  event: r.event,
  customerId: r.customer_id,
  channel: r.channel,
  address: r.address,
  locale: r.locale,
  payload: r.payload,
  createdAt: new Date(r.created_at),
});

export async function startNotifier(database: Database, options: NotifierOptions): Promise<Notifier> {
  const now = options.now ?? (() => new Date());
  const boss = await startQueue(database, options.queue);
  const reclaimAfter = options.reclaimAfterSeconds ?? 20;
  const leaseSeconds = options.leaseSeconds ?? 20;
  const ctx: DeliveryContext = {
    database,
    channels: options.channels,
    now,
    throttle: sharedThrottle(database, options.rateLimits ?? {}),
    parallel: options.parallel ?? 16,
    leaseSeconds,
  };
  const sendWorkers: string[] = [];
  const social = socialChannels(options.channels);

  const dispatch = async (): Promise<number> => {
    let n = 0;
    for (let direct = await dispatchDirect(database, boss, reclaimAfter); direct > 0; ) {
      n += direct;
      for (const id of sendWorkers) boss.notifyWorker(id);
      direct = await dispatchDirect(database, boss, reclaimAfter);
    }
    for (;;) {
      const claimed = await claimPending(database, reclaimAfter);
      if (claimed.length === 0) return n;
      for (const row of claimed) {
        await dispatchOne(database, boss, toEvent(row), Boolean(row.confirmed_at), now(), social);
        n++;
      }
      for (const id of sendWorkers) boss.notifyWorker(id);
    }
  };

  await boss.work<{ workspaceId: string; eventId: string; part?: FanoutPart }>(
    QUEUES.fanout,
    { pollingIntervalSeconds: 0.5, batchSize: 1 },
    async ([job]) => {
      await fanout(database, boss, job!.data, now(), social);
      for (const id of sendWorkers) boss.notifyWorker(id);
    },
  );
  for (let i = 0; i < (options.workers ?? 2); i++) {
    let self = "";
    self = await boss.work<Chunk>(
      QUEUES.send,
      { pollingIntervalSeconds: 0.5, batchSize: 1, includeMetadata: true },
      async ([job]) => {
        // Burst mode: after a job, fetch the next at once instead of waiting out the polling interval.
        boss.notifyWorker(self);
        const last = job!.retryCount >= job!.retryLimit;
        const waiting = await sendChunk(ctx, job!.data, last);
        if (waiting > 0) throw new Error(`${waiting} message(s) not accepted yet; retrying`);
      },
    );
    sendWorkers.push(self);
  }
  await boss.work(QUEUES.release, { pollingIntervalSeconds: 2, batchSize: 1 }, async () => {
    await releaseHeld(ctx);
  });

  const stopListening = await database.listen(OUTBOX_CHANNEL, () => void dispatch().catch(() => {}));
  const stopDispatching = every(1_000, dispatch);
  // Work a killed process held: looked for at once (a returning worker takes it up without waiting) and then often.
  const resume = async () => {
    if ((await resumeOrphans(database, boss, leaseSeconds)) > 0)
      for (const id of sendWorkers) boss.notifyWorker(id);
  };
  await resume().catch(() => {});
  const stopResuming = every(Math.max(1, Math.min(5, leaseSeconds / 4)) * 1_000, resume);
  // One release sweep per 15 s across all processes: the singleton key dedupes the job.
  const stopReleasing = every(15_000, () =>
    boss.send(QUEUES.release, {}, { singletonKey: "release", singletonSeconds: 15 }),
  );

  return {
    boss,
    dispatch,
    release: () => releaseHeld(ctx),
    async stop() {
      stopDispatching();
      stopResuming();
      stopReleasing();
      await stopListening();
      await boss.stop({ graceful: true, wait: true, timeout: 10_000 });
      await closeChannels(options.channels);
    },
  };
}

/** The company's own social accounts that are configured: public incidents are posted there. */
export const socialChannels = (channels: ChannelRegistry) =>
  (["mastodon", "bluesky"] as const).filter((c) => channels[c]?.length) as string[];

/** Takes pending events, each by one process only. */
async function claimPending(database: Database, reclaimAfterSeconds: number): Promise<EventRow[]> {
  return database.query<EventRow>(
    `update outbox_messages o set status = 'dispatching', dispatched_at = now()
      where (workspace_id, id) in (
        select workspace_id, id from outbox_messages
         where (status = 'pending' or (status = 'dispatching' and dispatched_at < now() - make_interval(secs => $1)))
           and customer_id is null
         order by created_at limit 20 for update skip locked)
      returning workspace_id, id, idempotency_key, event, customer_id, channel, address, locale, payload, created_at,
                confirmed_at`,
    [reclaimAfterSeconds],
  );
}

/**
 * Messages to one named customer (compensation notices: a million after a big outage) skip the
 * audience and the estimate: claimed 500 at a time, written as deliveries in one statement and
 * sent in one job, then marked done. A crash before that is reclaimed and repeated, and the
 * deliveries and the job (its id derived from its first message) are each written once.
 */
async function dispatchDirect(
  database: Database,
  boss: PgBoss,
  reclaimAfterSeconds: number,
): Promise<number> {
  const claimed = await database.query<{ workspace_id: string; id: string; customer_id: string }>(
    `update outbox_messages o set status = 'dispatching', dispatched_at = now()
      where (workspace_id, id) in (
        select workspace_id, id from outbox_messages
         where (status = 'pending' or (status = 'dispatching' and dispatched_at < now() - make_interval(secs => $1)))
           and customer_id is not null
         order by created_at limit $2 for update skip locked)
      returning workspace_id, id, customer_id`,
    [reclaimAfterSeconds, CHUNK],
  );
  if (claimed.length === 0) return 0;
  const byWorkspace = new Map<string, typeof claimed>();
  for (const r of claimed) {
    const list = byWorkspace.get(r.workspace_id) ?? [];
    list.push(r);
    byWorkspace.set(r.workspace_id, list);
  }
  for (const [workspaceId, rows] of byWorkspace) {
    const ids = rows.map((r) => r.id);
    await database.query(
      `insert into deliveries (workspace_id, event_id, recipient, channel, address, locale, status, updated_at)
       select o.workspace_id, o.id, 'customer:' || o.customer_id, o.channel, o.address, o.locale, 'queued', now()
         from outbox_messages o
        where o.workspace_id = $1 and o.id = any($2::text[]) and o.channel is not null and o.address is not null
          and not exists (select 1 from suppressions x
                           where x.workspace_id = o.workspace_id and x.channel = o.channel and x.address = o.address)
       on conflict do nothing`,
      [workspaceId, ids],
    );
    const items = rows.map((r): [string, string] => [r.id, `customer:${r.customer_id}`]);
    await boss.send(QUEUES.send, { workspaceId, items } satisfies Chunk, {
      id: jobId("send-direct", workspaceId, ids[0]!),
    });
    await database.query(
      `update outbox_messages set status = 'done' where workspace_id = $1 and id = any($2::text[])`,
      [workspaceId, ids],
    );
  }
  return claimed.length;
}

/**
 * Works out the audience and the cost. Above the workspace's threshold only the paid part waits
 * for a person (POST …/confirm): the free channels (e-mail, webhooks, push, chat, social, the
 * team) fan out at once, the SMS after the go-ahead, and the team is asked for it.
 */
async function dispatchOne(
  database: Database,
  boss: PgBoss,
  e: OutboxEvent,
  confirmed: boolean,
  now: Date,
  social: string[],
) {
  const est = await estimateEvent(database, e, social);
  const gated = est.total > 0 && est.needsConfirmation && !confirmed;
  const status = est.total === 0 ? "done" : gated ? "awaiting_confirmation" : "fanning_out";
  if (gated) {
    await queueFanout(boss, e.workspaceId, e.id, "free");
    await askForConfirmation(database, e, est, now);
  }
  await database.query(
    `update outbox_messages set status = $3, estimate = $4 where workspace_id = $1 and id = $2`,
    [e.workspaceId, e.id, status, JSON.stringify({ ...est, at: now.toISOString() })],
  );
  // A confirmed event sent its free part when it began to wait: what is left is the SMS.
  if (status === "fanning_out") await queueFanout(boss, e.workspaceId, e.id, confirmed ? "sms" : "all");
}

/** Tells the team that paid SMS wait for them, once per event. */
async function askForConfirmation(
  database: Database,
  e: OutboxEvent,
  est: Awaited<ReturnType<typeof estimateEvent>>,
  now: Date,
) {
  await database.query(
    `insert into outbox_messages (workspace_id, id, idempotency_key, event, incident_id, customer_id, channel, address,
                                  locale, template, payload, status, created_at)
     values ($1, $2, $3, 'notifications.confirmation_needed', $4, null, 'team', null, 'en',
             'notifications.confirmation_needed', $5::jsonb, 'pending', $6)
     on conflict (workspace_id, idempotency_key) do nothing`,
    [
      e.workspaceId,
      newId("msg"),
      `${e.idempotencyKey}:confirmation_needed`,
      typeof e.payload.incident_id === "string" ? e.payload.incident_id : null,
      JSON.stringify({
        title: e.payload.title ?? "",
        event_id: e.id,
        incident_id: e.payload.incident_id ?? null,
        sms: est.sms,
      }),
      now.toISOString(),
    ],
  );
}

/**
 * Who an event would reach and what its SMS would cost, without sending: recipients per
 * channel, and per SMS recipient the segments of the very text they will get (their language,
 * their unsubscribe link), priced by their country. Recipients alike are rendered once.
 */
export async function estimateEvent(database: Database, e: OutboxEvent, social: string[]) {
  const { settings, name, linkSecret, publicUrl, timeZone } = await loadNotificationSettings(
    database.db,
    e.workspaceId,
  );
  const scope = await scopeOf(database, e);
  const audience = await countAudience(database, e, scope, settings);
  if (postsToSocial(e, scope))
    for (const c of social) audience.byChannel[c] = (audience.byChannel[c] ?? 0) + 1;
  const countries: Record<string, { messages: number; segments: number }> = {};
  const from = {
    workspaceId: e.workspaceId,
    company: name,
    timeZone,
    fallbackLocale: settings.fallback_locale,
    publicUrl: settings.public_url ?? publicUrl,
    linkSecret,
  };
  for (const group of audience.sms) {
    const to = { recipient: group.recipient, channel: "sms", address: group.address };
    // Times in the recipient's zone when they gave one, as deliver.ts writes them.
    const context = recipientContext({ ...from, timeZone: group.time_zone ?? timeZone }, e.payload, to);
    // As deliver.ts renders it: the message in the reader's language, then their own unsubscribe line.
    const rendered = withUnsubscribe(
      renderMessage(e.event, e.payload, group.locale, { ...context, unsubscribeUrl: undefined }),
      context.unsubscribeUrl,
    );
    const { segments } = smsSegments(channelText("sms", rendered));
    const country = parsePhoneNumberFromString(group.address)?.country ?? "unknown";
    const c = countries[country] ?? { messages: 0, segments: 0 };
    countries[country] = { messages: c.messages + group.n, segments: c.segments + group.n * segments };
  }
  const est = estimate(
    audience.byChannel,
    countries,
    settings.sms.prices,
    settings.sms.confirm_above,
    currencyExponent,
  );
  return { ...est, countries, total: Object.values(audience.byChannel).reduce((a, b) => a + b, 0) };
}

/**
 * Which part of an event a fan-out sends: everything, the free channels while the SMS wait for
 * confirmation, or the SMS once confirmed. A job without a part is taken to be the one its
 * event's state calls for.
 */
export type FanoutPart = "all" | "free" | "sms";

export async function queueFanout(boss: PgBoss, workspaceId: string, eventId: string, part: FanoutPart) {
  await boss.send(
    QUEUES.fanout,
    { workspaceId, eventId, part },
    {
      id:
        part === "all" ? jobId("fanout", workspaceId, eventId) : jobId("fanout", workspaceId, eventId, part),
    },
  );
}

/**
 * Takes up work that a killed process held. pg-boss would retry its job only when the job
 * expires (minutes); instead, every job active for longer than the lease is checked against
 * what its worker renews: a send job's rows still queued without a live claim, a fan-out whose
 * event has not moved for a lease, are queued again as a new job, ahead of the rest. Its id
 * comes from the job it replaces, so processes that look at once queue it once. Each row keeps
 * its own claim, so rows a slow but living worker still renews are left to it.
 */
async function resumeOrphans(database: Database, boss: PgBoss, leaseSeconds: number): Promise<number> {
  // pg-boss's own table (schema "pgboss", see queue.ts): it has no call that lists active jobs.
  const jobs = await database.query<{ id: string; name: string; data: Record<string, unknown> }>(
    `select id, name, data from pgboss.job
      where name = any($1::text[]) and state = 'active' and started_on < now() - make_interval(secs => $2)`,
    [[QUEUES.send, QUEUES.fanout], leaseSeconds],
  );
  let resumed = 0;
  for (const job of jobs) {
    const options = { id: jobId("resume", job.id), priority: 1 };
    if (job.name === QUEUES.send) {
      const chunk = job.data as unknown as Chunk;
      const left = await database.query<{ event_id: string; recipient: string }>(
        `select distinct d.event_id, d.recipient from deliveries d
          where ${IN_CHUNK} and d.status = 'queued' and (d.claimed_until is null or d.claimed_until < now())`,
        chunkParams(chunk),
      );
      if (left.length === 0) continue;
      const items = left.map((r): [string, string] => [r.event_id, r.recipient]);
      if (await boss.send(QUEUES.send, { workspaceId: chunk.workspaceId, items } satisfies Chunk, options))
        resumed++;
    } else {
      // The same part of the event (a free part runs while its SMS await confirmation).
      const { workspaceId, eventId } = job.data as { workspaceId: string; eventId: string };
      const stalled = await database.query(
        `select 1 from outbox_messages where workspace_id = $1 and id = $2
            and status in ('fanning_out', 'awaiting_confirmation')
            and (dispatched_at is null or dispatched_at < now() - make_interval(secs => $3))`,
        [workspaceId, eventId, leaseSeconds],
      );
      if (stalled.length && (await boss.send(QUEUES.fanout, job.data, options))) resumed++;
    }
  }
  return resumed;
}

/** Pages every source of the audience into deliveries and queues one send job per page. */
async function fanout(
  database: Database,
  boss: PgBoss,
  job: { workspaceId: string; eventId: string; part?: FanoutPart },
  now: Date,
  social: string[],
) {
  const [row] = await database.query<EventRow>(
    `select workspace_id, id, idempotency_key, event, customer_id, channel, address, locale, payload, created_at,
            confirmed_at
       from outbox_messages where workspace_id = $1 and id = $2`,
    [job.workspaceId, job.eventId],
  );
  if (!row) return;
  const e = toEvent(row);
  const part = job.part ?? (row.confirmed_at ? "sms" : "all");
  // The fan-out's heartbeat: a fan-out whose event stops moving for a lease is taken up again.
  const alive = () =>
    database.query(`update outbox_messages set dispatched_at = now() where workspace_id = $1 and id = $2`, [
      e.workspaceId,
      e.id,
    ]);
  await alive();
  const { settings } = await loadNotificationSettings(database.db, e.workspaceId);
  const scope = await scopeOf(database, e);
  const send = (recipients: string[], first: string) =>
    boss.send(
      QUEUES.send,
      { workspaceId: e.workspaceId, items: recipients.map((r) => [e.id, r]) } satisfies Chunk,
      { id: jobId("send", e.workspaceId, e.id, part === "sms" ? `sms:${first}` : first) },
    );
  // Named recipients, as the audience table allows: the team and the company's public social
  // accounts (the free, public channel beside paid SMS). They never wait for the SMS go-ahead.
  const named =
    part === "sms"
      ? []
      : [
          ...(!e.customerId && reaches(e, "team") ? teamRecipients(settings) : []),
          ...(postsToSocial(e, scope)
            ? social.map((channel) => ({
                recipient: `social:${channel}`,
                channel,
                address: "",
                locale: settings.fallback_locale,
              }))
            : []),
        ];
  if (named.length) {
    for (const t of named)
      await database.query(
        `insert into deliveries (workspace_id, event_id, recipient, channel, address, locale, status, updated_at)
         values ($1, $2, $3, $4, $5, $6, 'queued', $7) on conflict do nothing`,
        [e.workspaceId, e.id, t.recipient, t.channel, t.address, t.locale, now.toISOString()],
      );
    await send(
      named.map((t) => t.recipient),
      "named",
    );
  }
  for (const [i, source] of sources(e, scope, settings)
    .map((s) => (part === "all" ? s : byChannel(s, part)))
    .entries()) {
    let after = "";
    for (;;) {
      const page = await insertPage(database, e, source, after, CHUNK, now);
      if (!page.last) break;
      if (page.recipients.length) await send(page.recipients, `${i}:${page.recipients[0]}`);
      after = page.last;
      await alive();
    }
  }
  // The free part of a waiting event leaves it waiting; the SMS part, or the whole, ends it.
  if (part !== "free")
    await database.query(`update outbox_messages set status = 'done' where workspace_id = $1 and id = $2`, [
      e.workspaceId,
      e.id,
    ]);
}
