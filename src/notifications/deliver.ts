/**
 * Sends the queued deliveries of one chunk. Each delivery is one (event, recipient, channel)
 * row whose idempotency key goes to the provider on every attempt. A send job first claims its
 * rows for a short lease that it renews while it lives; each lane records its outcome before it
 * sends the next, so after a `kill -9` only the sends in flight at that instant can repeat (with
 * the same key), and a claim whose lease ran out is taken up again (see `resumeOrphans`).
 *
 * Per message: quiet hours and digests hold it (critical news passes); a transient failure
 * tries the channel's next provider, then leaves the row queued for the job's retry (backoff
 * with jitter); a permanent one suppresses the address when it is bad, and fails over to the
 * recipient's next channel (a customer's email when their SMS failed).
 *
 * Where a channel's primary provider takes batches (Postmark, SendGrid), the chunk's messages
 * for it go in one call per batch instead of one per row, and each recipient's outcome in the
 * batch takes the same path as a single send's; a batch is recorded before the next is sent.
 */
import { randomUUID } from "node:crypto";
import { parsePhoneNumberWithError } from "libphonenumber-js";
import { audienceOf, reachesAudience } from "../core/audiences.ts";
import { digestRelease, releaseAt } from "../core/notifications.ts";
import { countDelivery, observeMessageSent } from "../lib/metrics.ts";
import type { Database } from "../storage/database.ts";
import type { ChannelRegistry } from "./channels/index.ts";
import {
  type BatchOutcome,
  type Channel,
  type ChannelSender,
  type OutgoingMessage,
  PermanentFailure,
  type SendResult,
} from "./channels/types.ts";
import { channelText, recipientContext } from "./compose.ts";
import { suppressAddress } from "./suppressions.ts";
import {
  type RenderContext,
  type Rendered,
  renderDigest,
  renderMessage,
  withUnsubscribe,
} from "./templates.ts";

export interface DeliveryContext {
  database: Database;
  channels: ChannelRegistry;
  now: () => Date;
  /** waits for a slot under the provider's rate limit */
  throttle: (provider: string) => Promise<void>;
  /** messages in flight at once within one chunk */
  parallel: number;
  /** how long a claim on a delivery lasts without its worker renewing it */
  leaseSeconds: number;
}

interface Row {
  workspace_id: string;
  event_id: string;
  recipient: string;
  channel: string;
  address: string;
  locale: string;
  attempts: number;
  quiet_hours: { start: string; end: string; time_zone: string } | null;
  digest_minutes: number | null;
  secrets: Record<string, string> | null;
  customer_channels: { type: string; address: string }[] | null;
  customer_sms_entitled: boolean | null;
  // The event's and the workspace's, shared by every row of the event (read once per chunk).
  event: string;
  event_key: string;
  event_created_at: Date;
  payload: Record<string, unknown>;
  company: string;
  time_zone: string;
  public_url: string | null;
  link_secret: string;
  settings: { fallback_locale?: string; public_url?: string; sms?: { entitlement_required?: boolean } };
  /** a digest's carrier: the other events it folds in, marked sent with it */
  held_events?: string[];
}

/**
 * Deliveries with what their recipient's row adds, then each event and workspace once: a
 * chunk is hundreds of rows of a few events, and the statements stay simple index lookups
 * whose plan cannot turn into a scan per row. `deliveries` is a statement yielding delivery
 * rows (a select, or the claim's update … returning), so a claim reads what it took at once.
 */
async function loadRows(
  database: Database,
  deliveriesSql: string,
  params: unknown[],
  order = "",
): Promise<Row[]> {
  const deliveries = await database.query<Omit<Row, keyof EventPart | keyof WorkspacePart>>(
    `with d as (${deliveriesSql})
     select d.workspace_id, d.event_id, d.recipient, d.channel, d.address, d.locale, d.attempts,
            s.quiet_hours, s.digest_minutes, s.secrets, c.channels as customer_channels, c.sms_entitled as customer_sms_entitled
       from d
       left join subscribers s on d.recipient like 'subscriber:%' and s.workspace_id = d.workspace_id and s.id = substr(d.recipient, 12)
       left join customers c on d.recipient like 'customer:%' and c.workspace_id = d.workspace_id and c.id = substr(d.recipient, 10)
      ${order}`,
    params,
  );
  if (deliveries.length === 0) return [];
  const eventIds = [...new Set(deliveries.map((d) => `${d.workspace_id}\u0000${d.event_id}`))].map((k) =>
    k.split("\u0000"),
  );
  const workspaceIds = [...new Set(deliveries.map((d) => d.workspace_id))];
  const [events, workspaces] = await Promise.all([
    database.query<EventPart & { workspace_id: string; id: string }>(
      `select workspace_id, id, event, idempotency_key as event_key, created_at as event_created_at, payload
         from outbox_messages where (workspace_id, id) in (select * from unnest($1::text[], $2::text[]))`,
      [eventIds.map((e) => e[0]), eventIds.map((e) => e[1])],
    ),
    database.query<WorkspacePart & { id: string }>(
      `select id, name as company, time_zone, public_url, link_secret, notification_settings as settings
         from workspaces where id = any($1::text[])`,
      [workspaceIds],
    ),
  ]);
  const eventOf = new Map(events.map(({ workspace_id, id, ...e }) => [`${workspace_id}\u0000${id}`, e]));
  const workspaceOf = new Map(workspaces.map(({ id, ...w }) => [id, w]));
  return deliveries.map((d) => ({
    ...d,
    ...eventOf.get(`${d.workspace_id}\u0000${d.event_id}`)!,
    ...workspaceOf.get(d.workspace_id)!,
  }));
}
type EventPart = Pick<Row, "event" | "event_key" | "event_created_at" | "payload">;
type WorkspacePart = Pick<Row, "company" | "time_zone" | "public_url" | "link_secret" | "settings">;

export const idempotencyKey = (eventKey: string, recipient: string, channel: string) =>
  `${eventKey}:${recipient}:${channel}`;

/** One send job's work: (event, recipient) pairs, of one event (a fan-out page) or many (direct messages). */
export interface Chunk {
  workspaceId: string;
  items: [eventId: string, recipient: string][];
}

/**
 * The chunk's rows, by primary key: (workspace, event, recipient) triples as a semi-join, so the
 * only plan worth having is a primary-key lookup per triple. A constant workspace or "= any"
 * lists beside it let stale statistics (a fan-out writes its rows faster than they are analysed)
 * pick a scan of the workspace's rows, rechecking each against the lists (88 ms a chunk, not 5).
 * `$1`, `$2` and `$3` are the triples' columns.
 */
export const IN_CHUNK = `(d.workspace_id, d.event_id, d.recipient) in (select * from unnest($1::text[], $2::text[], $3::text[]))`;
export const chunkParams = (chunk: Chunk) => [
  chunk.items.map(() => chunk.workspaceId),
  chunk.items.map((i) => i[0]),
  chunk.items.map((i) => i[1]),
];

/**
 * Sends one chunk; returns how many are still waiting for a retry (the job fails so pg-boss
 * retries). Rows another live worker has claimed are theirs, not this job's.
 */
export async function sendChunk(ctx: DeliveryContext, chunk: Chunk, lastAttempt: boolean): Promise<number> {
  const claim = randomUUID();
  const lease = ctx.leaseSeconds;
  // Claimed and read in one statement: the rows this job took, with what sending them needs.
  const rows = await loadRows(
    ctx.database,
    `update deliveries d set claim = $4, claimed_until = now() + make_interval(secs => $5)
      where ${IN_CHUNK} and d.status = 'queued' and (d.claimed_until is null or d.claimed_until < now())
      returning d.*`,
    [...chunkParams(chunk), claim, lease],
    `order by d.event_id, d.recipient collate "C", d.channel`,
  );
  if (rows.length === 0) return 0;
  const renew = setInterval(
    () =>
      void ctx.database
        .query(
          `update deliveries d set claimed_until = now() + make_interval(secs => $5)
            where ${IN_CHUNK} and d.claim = $4 and d.status = 'queued'`,
          [...chunkParams(chunk), claim, lease],
        )
        .catch(() => {}),
    (lease * 1000) / 4,
  );
  try {
    const waiting = await sendClaimed(ctx, chunk, claim, rows, lastAttempt);
    // What waits for the job's retry is free for it to claim again.
    if (waiting > 0)
      await ctx.database.query(
        `update deliveries d set claim = null, claimed_until = null where ${IN_CHUNK} and d.claim = $4 and d.status = 'queued'`,
        [...chunkParams(chunk), claim],
      );
    return waiting;
  } finally {
    clearInterval(renew);
  }
}

async function sendClaimed(
  ctx: DeliveryContext,
  chunk: Chunk,
  claim: string,
  rows: Row[],
  lastAttempt: boolean,
) {
  let waiting = 0;
  const record = outcomeRecorder(ctx.database);
  const settle = async ({ job, row }: Pick<Pending, "job" | "row">, outcome: Outcome) => {
    if (outcome !== "retry") return;
    if (lastAttempt) {
      countDelivery(row.channel, "none", "failed");
      await failOver(ctx, job, row, "gave up after retries");
    } else waiting++;
  };
  // Messages for a channel whose primary provider takes batches wait here for one call per batch.
  const batches = new Map<Channel, Pending[]>();
  // One rendering per event, language and time zone; each recipient only adds their own unsubscribe link.
  const renderings = new Map<string, Rendered>();
  await inParallel(rows, ctx.parallel, async (row) => {
    const job = { workspaceId: chunk.workspaceId, eventId: row.event_id, claim };
    if (await hold(ctx, job, row)) return;
    const id = `${row.event_id}\u0000${row.locale}\u0000${recipientTimeZone(row)}`;
    let common = renderings.get(id);
    if (!common) {
      common = renderMessage(row.event, row.payload, row.locale, {
        ...renderContext(job.workspaceId, row),
        unsubscribeUrl: undefined,
      });
      renderings.set(id, common);
    }
    const rendered = socialPost(
      row,
      withUnsubscribe(common, renderContext(job.workspaceId, row).unsubscribeUrl),
    );
    const channel = row.channel as Channel;
    if (ctx.channels[channel]?.[0]?.sendBatch) {
      const message = await prepare(ctx, job, row, rendered);
      if (message) {
        if (!batches.has(channel)) batches.set(channel, []);
        batches.get(channel)!.push({ job, row, message });
      }
      return;
    }
    await settle({ job, row }, await attempt(ctx, job, row, rendered, undefined, record));
  });
  for (const pending of batches.values()) {
    const outcomes = await deliver(ctx, pending, record);
    for (const [i, p] of pending.entries()) await settle(p, outcomes[i]!);
  }
  return waiting;
}

interface Sent {
  workspaceId: string;
  eventId: string;
  recipient: string;
  channel: string;
  provider: string;
  providerMessageId: string | null;
  at: string;
}

/**
 * Group commit of what providers took, shared by every send job of the process: each lane
 * waits until its own outcome is written before it sends again, so the sends a crash can repeat
 * are at most the lanes in flight. A statement goes when no send of the process is still in
 * flight (every lane that will report soon has), or when the oldest outcome has waited
 * `LINGER_MS`: lanes then move in step, and a round of all of them costs one statement, where
 * a statement per few outcomes cost PostgreSQL more than the messages' own rows.
 */
interface Recorder {
  record(sent: Sent): Promise<void>;
  /** a send is in flight until the returned function is called */
  sending(): () => void;
}
const LINGER_MS = 5;
const recorders = new WeakMap<Database, Recorder>();
function outcomeRecorder(database: Database): Recorder {
  const known = recorders.get(database);
  if (known) return known;
  let waiting: { sent: Sent; done: () => void; failed: (err: unknown) => void }[] = [];
  let writing = false;
  let inFlight = 0;
  let oldest = 0;
  let timer: NodeJS.Timeout | undefined;
  const due = () => inFlight === 0 || performance.now() - oldest >= LINGER_MS;
  const maybeWrite = () => {
    if (writing || waiting.length === 0) return;
    if (due()) void write();
    else
      timer ??= setTimeout(() => {
        timer = undefined;
        maybeWrite();
      }, LINGER_MS);
  };
  const write = async () => {
    writing = true;
    clearTimeout(timer);
    timer = undefined;
    const group = waiting;
    waiting = [];
    try {
      await markSent(
        database,
        group.map((g) => g.sent),
      );
      for (const g of group) g.done();
    } catch (err) {
      for (const g of group) g.failed(err);
    }
    writing = false;
    maybeWrite();
  };
  const recorder: Recorder = {
    record: (sent) =>
      new Promise<void>((done, failed) => {
        if (waiting.length === 0) oldest = performance.now();
        waiting.push({ sent, done, failed });
        maybeWrite();
      }),
    sending() {
      inFlight++;
      return () => {
        inFlight--;
        maybeWrite();
      };
    },
  };
  recorders.set(database, recorder);
  return recorder;
}

/**
 * Marks what providers took, in one set-based statement keyed by the rows' primary keys: the
 * keys as a semi-join ("in (select … unnest)") keep the plan on that index, where a plain join
 * to the unnested values was planned as a scan of the whole table per statement. A crash before
 * this repeats those sends, with the same idempotency keys.
 */
async function markSent(database: Database, sent: Sent[]) {
  if (sent.length === 0) return;
  const column = (f: (x: Sent) => string | null) => sent.map(f);
  await database.query(
    `update deliveries d set status = 'sent', provider = s.provider, provider_message_id = s.message_id,
            sent_at = s.at::timestamptz, updated_at = s.at::timestamptz, attempts = d.attempts + 1, last_error = null
       from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
            as s(workspace_id, event_id, recipient, channel, provider, message_id, at)
      where (d.workspace_id, d.event_id, d.recipient, d.channel) in (select * from unnest($1::text[], $2::text[], $3::text[], $4::text[]))
        and d.workspace_id = s.workspace_id and d.event_id = s.event_id and d.recipient = s.recipient
        and d.channel = s.channel and d.status = 'queued'`,
    [
      column((x) => x.workspaceId),
      column((x) => x.eventId),
      column((x) => x.recipient),
      column((x) => x.channel),
      column((x) => x.provider),
      column((x) => x.providerMessageId),
      column((x) => x.at),
    ],
  );
}

/** Quiet hours and digests: hold the message until its release time. Returns true when held. */
async function hold(ctx: DeliveryContext, job: { workspaceId: string; eventId: string }, row: Row) {
  const now = ctx.now();
  const critical = row.payload.impact === "critical" || row.event === "incident.update_overdue";
  let until = releaseAt(row.quiet_hours, now, critical);
  if (row.digest_minutes && row.event.startsWith("incident.") && !critical) {
    // Join the recipient's open digest, or open one.
    const [open] = await ctx.database.query<{ at: Date | null }>(
      `select min(not_before) as at from deliveries
        where workspace_id = $1 and recipient = $2 and channel = $3 and status = 'held'`,
      [job.workspaceId, row.recipient, row.channel],
    );
    const digestAt = open?.at ? new Date(open.at) : digestRelease(now, row.digest_minutes);
    if (digestAt > until) until = digestAt;
  }
  if (until <= now) return false;
  await ctx.database.query(
    `update deliveries set status = 'held', not_before = $5, updated_at = $6
      where workspace_id = $1 and event_id = $2 and recipient = $3 and channel = $4`,
    [job.workspaceId, job.eventId, row.recipient, row.channel, until.toISOString(), now.toISOString()],
  );
  return true;
}

/** Times in a message are in the recipient's zone when they gave one (with their quiet hours), else the workspace's. */
const recipientTimeZone = (row: Row) => row.quiet_hours?.time_zone ?? row.time_zone;

/** Per row, once: the unsubscribe link is an HMAC, and a send needs the context several times. */
const contexts = new WeakMap<Row, RenderContext>();
function renderContext(workspaceId: string, row: Row): RenderContext {
  let context = contexts.get(row);
  if (!context) {
    context = buildContext(workspaceId, row);
    contexts.set(row, context);
  }
  return context;
}

function buildContext(workspaceId: string, row: Row): RenderContext {
  return recipientContext(
    {
      workspaceId,
      company: row.company,
      timeZone: recipientTimeZone(row),
      fallbackLocale: row.settings.fallback_locale ?? "en",
      publicUrl: row.settings.public_url ?? row.public_url,
      linkSecret: row.link_secret,
    },
    row.payload,
    row,
  );
}

/** An emergency protocol may word its public social post itself (see protocols/store.ts). */
function socialPost(row: Row, rendered: Rendered): Rendered {
  const post = row.payload.social_post;
  if ((row.channel !== "mastodon" && row.channel !== "bluesky") || typeof post !== "string" || !post)
    return rendered;
  return { ...rendered, text: post };
}

const renderFor = (workspaceId: string, row: Row) =>
  renderMessage(row.event, row.payload, row.locale, renderContext(workspaceId, row));

type Job = { workspaceId: string; eventId: string; claim?: string };
type Outcome = "sent" | "failed" | "retry";

/** A message ready for its channel's providers, with the delivery row it is for. */
interface Pending {
  job: Job;
  row: Row;
  message: OutgoingMessage;
}

/** One send through the channel's providers in order. */
async function attempt(
  ctx: DeliveryContext,
  job: Job,
  row: Row,
  rendered: Rendered,
  key = idempotencyKey(row.event_key, row.recipient, row.channel),
  /** when given, successes are recorded through it (grouped with other lanes' outcomes) */
  record?: Recorder,
): Promise<Outcome> {
  const message = await prepare(ctx, job, row, rendered, key);
  if (!message) return "failed";
  const [outcome] = await deliver(ctx, [{ job, row, message }], record);
  return outcome!;
}

/**
 * The message for a row, or undefined when it must not or cannot go (the row is then marked
 * failed or suppressed): the audience table has the last word before any provider call, so
 * team-only news never leaves the team.
 */
async function prepare(
  ctx: DeliveryContext,
  job: Job,
  row: Row,
  rendered: Rendered,
  key = idempotencyKey(row.event_key, row.recipient, row.channel),
): Promise<OutgoingMessage | undefined> {
  const audience = audienceOf(row.recipient, row.channel);
  if (!audience || !reachesAudience(row.event, row.payload, audience)) {
    countDelivery(row.channel, "none", "failed");
    await ctx.database.query(
      `update deliveries set status = 'failed', last_error = 'not for this audience', updated_at = $5
        where workspace_id = $1 and event_id = $2 and recipient = $3 and channel = $4`,
      [job.workspaceId, job.eventId, row.recipient, row.channel, ctx.now().toISOString()],
    );
    return undefined;
  }
  if (!ctx.channels[row.channel as Channel]?.length) {
    countDelivery(row.channel, "none", "failed");
    await failOver(ctx, job, row, `no provider for ${row.channel}`);
    return undefined;
  }
  let address = row.address;
  if (row.channel === "sms") {
    try {
      address = parsePhoneNumberWithError(row.address).number;
    } catch {
      countDelivery(row.channel, "none", "suppressed");
      await suppress(ctx, job, row, "invalid_number");
      return undefined;
    }
  }
  const links = renderContext(job.workspaceId, row);
  return {
    idempotencyKey: key,
    channel: row.channel as Channel,
    address,
    locale: rendered.locale,
    event: row.event,
    subject: rendered.subject,
    text: channelText(row.channel, rendered),
    html: rendered.html,
    url: links.url,
    unsubscribeUrl: links.unsubscribeUrl,
    data: row.payload,
    secrets: row.secrets ?? undefined,
  };
}

/**
 * Messages of one channel through its providers in order, in batches where a provider takes
 * them. Each message's outcome is handled as a single send's would be: taken → recorded with the
 * provider's id; permanent → suppressed or failed over; transient → the next provider, and after
 * the last one the row waits for the job's retry. Only what is still transient goes on to the
 * next provider, so a recipient a provider took is never sent again by another. What a call
 * took is recorded before the next call goes (one message per lane, or one batch), so a crash
 * repeats at most what was in flight, under the same keys.
 */
async function deliver(ctx: DeliveryContext, items: Pending[], record?: Recorder): Promise<Outcome[]> {
  const outcomes: Outcome[] = items.map(() => "retry");
  const lastError: string[] = [];
  const settle = async (sender: ChannelSender, i: number, result: BatchOutcome) => {
    const { job, row } = items[i]!;
    if (result instanceof PermanentFailure) {
      countDelivery(row.channel, sender.provider, result.suppress ? "suppressed" : "failed");
      if (result.suppress) await suppress(ctx, job, row, result.message);
      else await failOver(ctx, job, row, result.message);
      outcomes[i] = "failed";
    } else if (result instanceof Error) {
      countDelivery(row.channel, sender.provider, "retry");
      lastError[i] = `${sender.provider}: ${result.message}`;
    } else {
      countDelivery(row.channel, sender.provider, "sent");
      // Held messages (quiet hours, digests) are late on purpose: not a first message's latency.
      if (!row.held_events)
        observeMessageSent(
          `${job.workspaceId}\u0000${job.eventId}`,
          row.event,
          row.event_created_at,
          ctx.now(),
        );
      // The provider took it: a failure to record it must not send it through the next one.
      await markOne(ctx, job, row, result, record);
      outcomes[i] = "sent";
    }
  };
  const asError = (err: unknown) => (err instanceof Error ? err : new Error(String(err)));
  let left = items.map((_, i) => i);
  for (const sender of ctx.channels[items[0]!.row.channel as Channel] ?? []) {
    if (left.length === 0) break;
    if (!sender.sendBatch) {
      await inParallel(left, ctx.parallel, async (i) => {
        await ctx.throttle(sender.provider);
        const sent = record?.sending();
        const result = await sender
          .send(items[i]!.message)
          .catch(asError)
          // counted out once the lane has handed its outcome to the recorder (microtasks away)
          .finally(() => sent && setImmediate(sent));
        await settle(sender, i, result);
      });
    } else {
      const size = Math.max(1, sender.maxBatch ?? 1);
      for (let from = 0; from < left.length; from += size) {
        const batch = left.slice(from, from + size);
        for (const _ of batch) await ctx.throttle(sender.provider);
        const sent = record?.sending();
        let results = await sender
          .sendBatch(batch.map((i) => items[i]!.message))
          .catch((err) => batch.map(() => asError(err)))
          .finally(() => sent && setImmediate(sent));
        if (results.length !== batch.length)
          results = batch.map(() => new Error(`${results.length} outcomes for ${batch.length} messages`));
        // Settled together: a batch's successes share the group commit's statements.
        await Promise.all(batch.map((i, k) => settle(sender, i, results[k]!)));
      }
    }
    left = left.filter((i) => outcomes[i] === "retry");
  }
  await Promise.all(
    left.map((i) =>
      ctx.database.query(
        `update deliveries set attempts = attempts + 1, last_error = $5, updated_at = $6
          where workspace_id = $1 and event_id = $2 and recipient = $3 and channel = $4`,
        [
          items[i]!.job.workspaceId,
          items[i]!.job.eventId,
          items[i]!.row.recipient,
          items[i]!.row.channel,
          (lastError[i] ?? "").slice(0, 500),
          ctx.now().toISOString(),
        ],
      ),
    ),
  );
  return outcomes;
}

/** Records one taken message: through the group commit when there is one, else on its own (with a digest's events). */
async function markOne(ctx: DeliveryContext, job: Job, row: Row, result: SendResult, record?: Recorder) {
  if (record && !row.held_events) {
    await record.record({
      workspaceId: job.workspaceId,
      eventId: job.eventId,
      recipient: row.recipient,
      channel: row.channel,
      provider: result.provider,
      providerMessageId: result.providerMessageId ?? null,
      at: ctx.now().toISOString(),
    });
    return;
  }
  await ctx.database.query(
    `update deliveries set status = 'sent', provider = $5, provider_message_id = $6, sent_at = $7, updated_at = $7,
            attempts = attempts + 1, last_error = null
      where workspace_id = $1 and event_id = any($2::text[]) and recipient = $3 and channel = $4
        and status in ('queued', 'held')`,
    [
      job.workspaceId,
      [job.eventId, ...(row.held_events ?? [])],
      row.recipient,
      row.channel,
      result.provider,
      result.providerMessageId ?? null,
      ctx.now().toISOString(),
    ],
  );
}

async function suppress(ctx: DeliveryContext, job: Job, row: Row, why: string) {
  await suppressAddress(ctx.database, job.workspaceId, row.channel, row.address, why, ctx.now());
  await failOver(ctx, job, row, why, "suppressed");
}

/**
 * Marks the delivery failed and, for a customer with another channel, queues the message there
 * (once: its own delivery row and key) and sends it now.
 */
async function failOver(ctx: DeliveryContext, job: Job, row: Row, why: string, status = "failed") {
  await ctx.database.query(
    `update deliveries set status = $5, last_error = $6, updated_at = $7
      where workspace_id = $1 and event_id = $2 and recipient = $3 and channel = $4`,
    [
      job.workspaceId,
      job.eventId,
      row.recipient,
      row.channel,
      status,
      why.slice(0, 500),
      ctx.now().toISOString(),
    ],
  );
  const channels = row.customer_channels ?? [];
  const paidSmsOnly = row.settings.sms?.entitlement_required && !row.customer_sms_entitled;
  const next = channels
    .slice(channels.findIndex((c) => c.type === row.channel && c.address === row.address) + 1)
    .find((c) => !(c.type === "sms" && paidSmsOnly));
  if (!next || next.type === row.channel || !(next.type in ctx.channels)) return;
  // Claimed by the same send as the row it replaces: a crash before it is sent leaves it to be taken up.
  const inserted = await ctx.database.query(
    `insert into deliveries (workspace_id, event_id, recipient, channel, address, locale, status, updated_at, claim, claimed_until)
     values ($1, $2, $3, $4, $5, $6, 'queued', $7, $8, now() + make_interval(secs => $9)) on conflict do nothing returning 1`,
    [
      job.workspaceId,
      job.eventId,
      row.recipient,
      next.type,
      next.address,
      row.locale,
      ctx.now().toISOString(),
      job.claim ?? null,
      ctx.leaseSeconds,
    ],
  );
  if (inserted.length) {
    const fallback = { ...row, channel: next.type, address: next.address, attempts: 0 };
    await attempt(ctx, job, fallback, renderFor(job.workspaceId, fallback));
  }
}

/**
 * Releases held messages that are due: per recipient and channel, one message, or a digest of
 * several. Returns how many messages went out.
 */
export async function releaseHeld(ctx: DeliveryContext, limit = 500): Promise<number> {
  const due = await loadRows(
    ctx.database,
    `select * from deliveries d where d.status = 'held' and d.not_before <= $1
      order by d.workspace_id, d.recipient collate "C", d.channel, d.event_id limit $2`,
    [ctx.now().toISOString(), limit],
    `order by d.workspace_id, d.recipient collate "C", d.channel, d.event_id`,
  );
  // A digest lists its events in the order they happened.
  due.sort((a, b) => a.event_created_at.getTime() - b.event_created_at.getTime());
  const groups = new Map<string, typeof due>();
  for (const r of due) {
    const k = `${r.workspace_id}\u0000${r.recipient}\u0000${r.channel}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  let sent = 0;
  for (const rows of groups.values()) {
    const first = rows[0]!;
    const job = { workspaceId: first.workspace_id, eventId: first.event_id };
    const parts = rows.map((r) => renderFor(job.workspaceId, r));
    const rendered =
      parts.length === 1
        ? parts[0]!
        : renderDigest(parts, parts.at(-1)!.locale, renderContext(job.workspaceId, rows.at(-1)!));
    // The first event's key names the digest: stable while it is pending, whatever joins later.
    const key =
      rows.length === 1
        ? idempotencyKey(first.event_key, first.recipient, first.channel)
        : `${idempotencyKey(first.event_key, first.recipient, first.channel)}:digest`;
    const carrier = { ...first, held_events: rows.map((r) => r.event_id) };
    if ((await attempt(ctx, job, carrier, rendered, key)) === "sent") sent++;
  }
  return sent;
}

/** `fn` over the items, at most `n` at a time. */
async function inParallel<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  let failed = false;
  // After one lane fails no lane takes another item, and the job ends only once every lane has:
  // nothing is sent after the job has given its rows back.
  const lanes = Array.from({ length: Math.min(n, items.length) }, async () => {
    try {
      while (!failed && next < items.length) await fn(items[next++]!);
    } catch (err) {
      failed = true;
      throw err;
    }
  });
  const settled = await Promise.allSettled(lanes);
  const rejected = settled.find((s) => s.status === "rejected");
  if (rejected) throw rejected.reason;
}
