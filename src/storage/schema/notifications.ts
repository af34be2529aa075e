/** Notifications: the outbox, subscribers, deliveries, provider rate limits, suppressions. */
import { sql } from "drizzle-orm";
import { boolean, index, integer, jsonb, pgTable, primaryKey, text, uniqueIndex } from "drizzle-orm/pg-core";
import { ts } from "./columns.ts";

/** Messages waiting for the notifications worker; one per idempotency key, ever. */
export const outboxMessages = pgTable(
  "outbox_messages",
  {
    workspaceId: text("workspace_id").notNull(),
    id: text("id").notNull(),
    idempotencyKey: text("idempotency_key").notNull(),
    event: text("event").notNull(),
    incidentId: text("incident_id"),
    customerId: text("customer_id"),
    channel: text("channel"),
    address: text("address"),
    locale: text("locale").notNull(),
    template: text("template").notNull(),
    payload: jsonb("payload").notNull().$type<Record<string, unknown>>(),
    /** pending → awaiting_confirmation (estimate above the threshold) → fanning_out → done; or skipped */
    status: text("status").notNull().default("pending"),
    /** recipients per channel and the SMS cost, worked out before anything is sent */
    estimate: jsonb("estimate").$type<Record<string, unknown>>(),
    confirmedAt: ts("confirmed_at"),
    confirmedBy: text("confirmed_by"),
    /** when a dispatcher took it; a claim older than a minute is taken again (its work is idempotent) */
    dispatchedAt: ts("dispatched_at"),
    createdAt: ts("created_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.id] }),
    uniqueIndex("outbox_idempotency").on(t.workspaceId, t.idempotencyKey),
    index("outbox_status").on(t.workspaceId, t.status),
  ],
);

/** People who asked to be told, on the page or through the API: whole page, or chosen components/regions. */
export const subscribers = pgTable(
  "subscribers",
  {
    workspaceId: text("workspace_id").notNull(),
    id: text("id").notNull(),
    channel: text("channel").notNull(),
    /** normalised: lower-case e-mail, E.164 phone, URL, chat id */
    address: text("address").notNull(),
    locale: text("locale").notNull().default("en"),
    /** empty = the whole page */
    components: text("components").array().notNull().default(sql`'{}'::text[]`),
    regions: text("regions").array().notNull().default(sql`'{}'::text[]`),
    /** set: this subscriber follows this one incident only, until it is resolved (components and regions are empty) */
    incidentId: text("incident_id"),
    /** {start: "22:00", end: "07:00", time_zone: "Europe/Rome"}; critical incidents pass through */
    quietHours: jsonb("quiet_hours").$type<{ start: string; end: string; time_zone: string }>(),
    /** fold updates arriving within this many minutes into one message */
    digestMinutes: integer("digest_minutes"),
    /** paid SMS alerts: see the workspace's sms.entitlement_required */
    smsEntitled: boolean("sms_entitled").notNull().default(false),
    /** webhook signing secret, push subscription keys */
    secrets: jsonb("secrets").$type<Record<string, string>>(),
    /** SHA-256 of the 6-digit code sent for double opt-in (links carry a signed token instead) */
    confirmCodeHash: text("confirm_code_hash"),
    confirmAttempts: integer("confirm_attempts").notNull().default(0),
    confirmedAt: ts("confirmed_at"),
    unsubscribedAt: ts("unsubscribed_at"),
    createdAt: ts("created_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.id] }),
    uniqueIndex("subscribers_address").on(t.workspaceId, t.channel, t.address),
  ],
);

/**
 * One row per (event, recipient, channel): the unit of exactly-once. Its idempotency key,
 * `<event key>:<recipient>:<channel>`, is what providers see on every attempt.
 */
export const deliveries = pgTable(
  "deliveries",
  {
    workspaceId: text("workspace_id").notNull(),
    eventId: text("event_id").notNull(),
    /** subscriber:<id>, customer:<id> or team:<n> */
    recipient: text("recipient").notNull(),
    channel: text("channel").notNull(),
    address: text("address").notNull(),
    locale: text("locale").notNull(),
    /** queued → sent → delivered; or held (quiet hours, digest), failed, bounced, suppressed */
    status: text("status").notNull(),
    provider: text("provider"),
    providerMessageId: text("provider_message_id"),
    attempts: integer("attempts").notNull().default(0),
    lastError: text("last_error"),
    /** not before this time: the end of quiet hours, or the digest window */
    notBefore: ts("not_before"),
    sentAt: ts("sent_at"),
    updatedAt: ts("updated_at").notNull(),
    /** the send attempt working on a queued row; another takes it over once `claimed_until` has passed */
    claim: text("claim"),
    /** the claim's lease: renewed while its worker lives, so a killed worker's rows are taken up within seconds */
    claimedUntil: ts("claimed_until"),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.eventId, t.recipient, t.channel] }),
    index("deliveries_provider_message").on(t.provider, t.providerMessageId),
    // Only held rows: with every queued row of a big fan-out in it, the planner took it for a
    // chunk's rows (workspace and status) and scanned the whole queue per statement.
    index("deliveries_held").on(t.workspaceId, t.notBefore).where(sql`${t.status} = 'held'`),
  ],
);

/**
 * How far ahead each provider's sending capacity is booked, shared by every delivery process
 * so N workers together keep to the provider's rate instead of N times it (see rate-limits.ts).
 */
export const providerRateLimits = pgTable("provider_rate_limits", {
  provider: text("provider").primaryKey(),
  bookedUntil: ts("booked_until").notNull(),
});

/** Addresses never to send to again: hard bounces, complaints, provider-reported opt-outs. */
export const suppressions = pgTable(
  "suppressions",
  {
    workspaceId: text("workspace_id").notNull(),
    channel: text("channel").notNull(),
    address: text("address").notNull(),
    reason: text("reason").notNull(),
    createdAt: ts("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.channel, t.address] })],
);
