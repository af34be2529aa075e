/**
 * The one schema, for PGlite and PostgreSQL alike. Every row belongs to a workspace and
 * every key starts with the workspace id, so workspaces never see each other's data.
 * Money columns are integers in minor units beside an ISO 4217 code.
 */
import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  foreignKey,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from "drizzle-orm/pg-core";

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });
const money = (name: string) => bigint(name, { mode: "number" });

export const workspaces = pgTable("workspaces", {
  id: text("id").primaryKey(),
  slug: text("slug").notNull().unique(),
  name: text("name").notNull(),
  timeZone: text("time_zone").notNull().default("UTC"),
  publicUrl: text("public_url"),
  /** Signs unsubscribe and confirmation links: random per workspace, shared by every process. */
  linkSecret: text("link_secret")
    .notNull()
    .default(sql`replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '')`),
  /** Who hears about what: see notifications/settings.ts for the shape and its defaults. */
  notificationSettings: jsonb("notification_settings").notNull().default({}).$type<Record<string, unknown>>(),
  /** Four eyes on money: a compensation run whose total exceeds this (minor units per ISO 4217 code) needs a second, finance approver. */
  fourEyesAbove: jsonb("four_eyes_above").notNull().default({}).$type<Record<string, number>>(),
  createdAt: ts("created_at").notNull().defaultNow(),
});

export const apiTokens = pgTable(
  "api_tokens",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    name: text("name").notNull(),
    /** SHA-256 of the secret: tokens are 256 random bits, so a slow hash adds nothing. */
    secretHash: text("secret_hash").notNull().unique(),
    scopes: text("scopes").array().notNull(),
    createdAt: ts("created_at").notNull().defaultNow(),
    expiresAt: ts("expires_at"),
    lastUsedAt: ts("last_used_at"),
    revokedAt: ts("revoked_at"),
  },
  (t) => [index("api_tokens_workspace").on(t.workspaceId)],
);

export const components = pgTable(
  "components",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    id: text("id").notNull(),
    parentId: text("parent_id"),
    name: text("name").notNull(),
    description: text("description"),
    region: text("region"),
    position: integer("position").notNull().default(0),
    ownStatus: text("own_status").notNull().default("operational"),
    createdAt: ts("created_at").notNull().defaultNow(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.id] }),
    foreignKey({ columns: [t.workspaceId, t.parentId], foreignColumns: [t.workspaceId, t.id] }),
    index("components_parent").on(t.workspaceId, t.parentId),
  ],
);

export const incidents = pgTable(
  "incidents",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    id: text("id").notNull(),
    title: text("title").notNull(),
    titleTranslations: jsonb("title_translations").notNull().default({}).$type<Record<string, string>>(),
    impact: text("impact").notNull(),
    status: text("status").notNull(),
    startedAt: ts("started_at").notNull(),
    createdAt: ts("created_at").notNull(),
    updatedAt: ts("updated_at").notNull(),
    identifiedAt: ts("identified_at"),
    monitoringAt: ts("monitoring_at"),
    resolvedAt: ts("resolved_at"),
    eta: ts("eta"),
    nextUpdateBy: ts("next_update_by"),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.id] }),
    index("incidents_open").on(t.workspaceId).where(sql`${t.resolvedAt} is null`),
    index("incidents_resolved_at").on(t.workspaceId, t.resolvedAt),
  ],
);

/** Current status of each component within each incident. */
export const incidentComponents = pgTable(
  "incident_components",
  {
    workspaceId: text("workspace_id").notNull(),
    incidentId: text("incident_id").notNull(),
    componentId: text("component_id").notNull(),
    status: text("status").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.incidentId, t.componentId] }),
    foreignKey({
      columns: [t.workspaceId, t.incidentId],
      foreignColumns: [incidents.workspaceId, incidents.id],
    }),
    foreignKey({
      columns: [t.workspaceId, t.componentId],
      foreignColumns: [components.workspaceId, components.id],
    }),
    index("incident_components_component").on(t.workspaceId, t.componentId),
  ],
);

export const incidentUpdates = pgTable(
  "incident_updates",
  {
    workspaceId: text("workspace_id").notNull(),
    id: text("id").notNull(),
    incidentId: text("incident_id").notNull(),
    status: text("status").notNull(),
    body: text("body").notNull(),
    bodyTranslations: jsonb("body_translations").notNull().default({}).$type<Record<string, string>>(),
    /** [{componentId, oldStatus, newStatus}] as the update changed them. */
    components: jsonb("components")
      .notNull()
      .$type<{ componentId: string; oldStatus: string; newStatus: string }[]>(),
    eta: ts("eta"),
    nextUpdateBy: ts("next_update_by"),
    createdAt: ts("created_at").notNull(),
    createdBy: text("created_by"),
    /** for the team only (console, admin API), never public: e.g. which monitor saw what */
    teamNote: text("team_note"),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.id] }),
    foreignKey({
      columns: [t.workspaceId, t.incidentId],
      foreignColumns: [incidents.workspaceId, incidents.id],
    }),
    index("incident_updates_incident").on(t.workspaceId, t.incidentId, t.createdAt),
  ],
);

// ---- The company's own data: who its customers are and what they used and paid. ----

export const customers = pgTable(
  "customers",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    id: text("id").notNull(),
    name: text("name"),
    homeRegion: text("home_region"),
    plan: text("plan"),
    locale: text("locale").notNull().default("en"),
    /** Contact channels in order of preference: [{type: "email", address}, {type: "sms", address}]. */
    channels: jsonb("channels").notNull().default([]).$type<{ type: string; address: string }[]>(),
    /** paid SMS add-on bought (as DiRete sells its alerts): SMS reaches them even when it is paid-only */
    smsEntitled: boolean("sms_entitled").notNull().default(false),
    monthlyFee: money("monthly_fee"),
    currency: text("currency"),
    /** the customer in Stripe (cus_…), where refunds' credits and grants are booked */
    stripeCustomerId: text("stripe_customer_id"),
    updatedAt: ts("updated_at").notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.id] }),
    index("customers_region").on(t.workspaceId, t.homeRegion),
  ],
);

/** A stretch of use: a rental, a charging session, a connectivity period. `[started_at, ended_at)`. */
export const usageSessions = pgTable(
  "usage_sessions",
  {
    workspaceId: text("workspace_id").notNull(),
    id: text("id").notNull(),
    customerId: text("customer_id").notNull(),
    kind: text("kind").notNull(),
    componentId: text("component_id"),
    region: text("region"),
    startedAt: ts("started_at").notNull(),
    endedAt: ts("ended_at"),
    charge: money("charge").notNull().default(0),
    currency: text("currency").notNull(),
    refunded: money("refunded").notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.id] }),
    foreignKey({
      columns: [t.workspaceId, t.customerId],
      foreignColumns: [customers.workspaceId, customers.id],
    }),
    index("usage_sessions_time").on(t.workspaceId, t.startedAt, t.endedAt),
    index("usage_sessions_customer").on(t.workspaceId, t.customerId),
    // Sessions still running have no end to bound them by: few, so a small index of their own.
    index("usage_sessions_open").on(t.workspaceId, t.startedAt).where(sql`${t.endedAt} is null`),
  ],
);

/**
 * The longest closed session each workspace ever imported: a preview then reads only sessions
 * that start at most that long before its window, a tight range of usage_sessions_time.
 * Only ever grows (an upper bound stays correct when sessions shrink or go).
 */
export const usageBounds = pgTable("usage_bounds", {
  workspaceId: text("workspace_id")
    .primaryKey()
    .references(() => workspaces.id),
  longestSessionMs: bigint("longest_session_ms", { mode: "number" }).notNull(),
});

/**
 * A counter per workspace of what refunds are bounded by: each import of sessions or charges and
 * each chunk an apply books moves it on. A run applied at the version its preview read needs
 * not read those again.
 */
export const usageVersions = pgTable("usage_versions", {
  workspaceId: text("workspace_id")
    .primaryKey()
    .references(() => workspaces.id),
  version: bigint("version", { mode: "number" }).notNull(),
});

export const charges = pgTable(
  "charges",
  {
    workspaceId: text("workspace_id").notNull(),
    id: text("id").notNull(),
    customerId: text("customer_id").notNull(),
    /** The usage session (or order) this charge bills; a session is billed once. */
    usageRef: text("usage_ref"),
    amount: money("amount").notNull(),
    currency: text("currency").notNull(),
    status: text("status").notNull(),
    createdAt: ts("created_at").notNull(),
    amountRefunded: money("amount_refunded").notNull().default(0),
    /** the billing system's invoice this charge paid, if any: refunds become credit notes on it */
    invoiceId: text("invoice_id"),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.id] }),
    foreignKey({
      columns: [t.workspaceId, t.customerId],
      foreignColumns: [customers.workspaceId, customers.id],
    }),
    index("charges_created").on(t.workspaceId, t.createdAt),
    index("charges_customer").on(t.workspaceId, t.customerId, t.usageRef),
  ],
);

// ---- Compensation: policies, runs (preview → approve → apply), the ledger, the outbox. ----

/** Every saved version of a policy's YAML; a run names the version it used. */
export const policies = pgTable(
  "policies",
  {
    workspaceId: text("workspace_id").notNull(),
    id: text("id").notNull(),
    version: integer("version").notNull(),
    yaml: text("yaml").notNull(),
    createdAt: ts("created_at").notNull(),
    createdBy: text("created_by"),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id, t.version] })],
);

export const compRuns = pgTable(
  "comp_runs",
  {
    workspaceId: text("workspace_id").notNull(),
    id: text("id").notNull(),
    incidentId: text("incident_id").notNull(),
    policyId: text("policy_id").notNull(),
    policyVersion: integer("policy_version").notNull(),
    /** previewed → approved → applied */
    status: text("status").notNull(),
    asOf: ts("as_of").notNull(),
    windowStart: ts("window_start").notNull(),
    windowEnd: ts("window_end").notNull(),
    /** {money: {EUR: n}, units: {minutes: n}, lines, customers, excluded, review, notifications} */
    summary: jsonb("summary").notNull().$type<Record<string, unknown>>(),
    /** SHA-256 of the preview document: same inputs, same hash */
    previewHash: text("preview_hash").notNull(),
    createdAt: ts("created_at").notNull(),
    createdBy: text("created_by"),
    approvedAt: ts("approved_at"),
    approvedBy: text("approved_by"),
    appliedAt: ts("applied_at"),
    appliedSummary: jsonb("applied_summary").$type<Record<string, unknown>>(),
    /** the last customer whose lines and message an apply has committed: it goes on from there */
    applyCursor: text("apply_cursor"),
    /** messages the run's apply queued so far, across attempts */
    applyMessages: integer("apply_messages").notNull().default(0),
    /**
     * usage_versions as the preview read it before its data, moved on with each chunk the
     * apply books while nothing else changed it (null: previewed before 0025)
     */
    usageVersion: bigint("usage_version", { mode: "number" }),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.id] }),
    index("comp_runs_incident").on(t.workspaceId, t.incidentId),
  ],
);

/**
 * One ActionLine per row, column by column (no JSON copy of the row: it doubled what a large
 * preview writes). `lineOf` in compensation/runs.ts turns a row back into the line.
 */
export const compRunLines = pgTable(
  "comp_run_lines",
  {
    workspaceId: text("workspace_id").notNull(),
    runId: text("run_id").notNull(),
    key: text("key").notNull(),
    customerId: text("customer_id").notNull(),
    kind: text("kind").notNull(),
    amount: money("amount").notNull(),
    /** ISO 4217 code for money, null for units */
    currency: text("currency"),
    unit: text("unit"),
    target: money("target").notNull(),
    alreadyApplied: money("already_applied").notNull(),
    refundedElsewhere: money("refunded_elsewhere").notNull(),
    policyGroup: text("policy_group").notNull(),
    rule: text("rule").notNull(),
    breakdown: jsonb("breakdown").notNull().$type<{ rule: string; amount: number }[]>(),
    session: text("session"),
    charge: text("charge"),
    reason: text("reason"),
    /** ISO 8601 instants, kept as the engine wrote them */
    dueBy: text("due_by"),
    scope: text("scope"),
    expiresAt: text("expires_at"),
    visibleBy: text("visible_by"),
  },
  // By customer first: an apply books whole customers per chunk (a key belongs to one customer).
  (t) => [primaryKey({ columns: [t.workspaceId, t.runId, t.customerId, t.key] })],
);

/** Excluded items and review items of a run. */
export const compRunItems = pgTable(
  "comp_run_items",
  {
    workspaceId: text("workspace_id").notNull(),
    runId: text("run_id").notNull(),
    type: text("type").notNull(),
    customerId: text("customer_id").notNull(),
    reference: text("reference").notNull(),
    reason: text("reason").notNull(),
    detail: text("detail"),
    key: text("key"),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.runId, t.type, t.customerId, t.reference, t.reason] })],
);

/**
 * Customers a run tells that nothing is due (affected, but owed nothing or already paid).
 * Everyone with a line is told what they got; the lines say who they are.
 */
export const compRunNotices = pgTable(
  "comp_run_notices",
  {
    workspaceId: text("workspace_id").notNull(),
    runId: text("run_id").notNull(),
    customerId: text("customer_id").notNull(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.runId, t.customerId] })],
);

/**
 * The ledger: one entry per payment decision, immutable (a trigger refuses UPDATE and DELETE).
 * `idempotency_key` is `incident:target:kind@target_amount`: applying the same decision twice
 * hits the unique index and posts nothing.
 */
export const ledgerEntries = pgTable(
  "ledger_entries",
  {
    workspaceId: text("workspace_id").notNull(),
    id: text("id").notNull(),
    idempotencyKey: text("idempotency_key").notNull(),
    actionKey: text("action_key").notNull(),
    runId: text("run_id"),
    incidentId: text("incident_id").notNull(),
    customerId: text("customer_id").notNull(),
    kind: text("kind").notNull(),
    amount: money("amount").notNull(),
    /** ISO 4217 code, or a unit ledger such as `minutes:berlin` */
    currency: text("currency").notNull(),
    /** refunds: what the money came back from, `session:<id>` or `charge:<id>`, whichever incident */
    refundOf: text("refund_of"),
    detail: jsonb("detail").notNull().$type<Record<string, unknown>>(),
    createdAt: ts("created_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.id] }),
    index("ledger_entries_refund_of").on(t.workspaceId, t.refundOf).where(sql`${t.refundOf} is not null`),
    uniqueIndex("ledger_entries_idempotency").on(t.workspaceId, t.idempotencyKey),
    index("ledger_entries_action").on(t.workspaceId, t.actionKey),
    index("ledger_entries_customer").on(t.workspaceId, t.customerId, t.createdAt),
    // a run's entries, for its summary and its exports
    index("ledger_entries_run").on(t.workspaceId, t.runId),
  ],
);

/** Double-entry postings: for each entry, the amounts per currency sum to zero. */
export const ledgerPostings = pgTable(
  "ledger_postings",
  {
    workspaceId: text("workspace_id").notNull(),
    entryId: text("entry_id").notNull(),
    account: text("account").notNull(),
    /** positive = debit, negative = credit */
    amount: money("amount").notNull(),
    currency: text("currency").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.entryId, t.account] }),
    foreignKey({
      columns: [t.workspaceId, t.entryId],
      foreignColumns: [ledgerEntries.workspaceId, ledgerEntries.id],
    }),
  ],
);

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

/** What was sent to a billing system for each ledger entry. */
export const billingExports = pgTable(
  "billing_exports",
  {
    workspaceId: text("workspace_id").notNull(),
    entryId: text("entry_id").notNull(),
    target: text("target").notNull(),
    status: text("status").notNull(),
    providerId: text("provider_id"),
    error: text("error"),
    attempts: integer("attempts").notNull().default(0),
    updatedAt: ts("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.entryId, t.target] })],
);

// ---- Scheduled maintenance. ----

export const maintenances = pgTable(
  "maintenances",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    id: text("id").notNull(),
    title: text("title").notNull(),
    titleTranslations: jsonb("title_translations").notNull().default({}).$type<Record<string, string>>(),
    body: text("body").notNull(),
    bodyTranslations: jsonb("body_translations").notNull().default({}).$type<Record<string, string>>(),
    components: jsonb("components").notNull().$type<string[]>(),
    startsAt: ts("starts_at").notNull(),
    endsAt: ts("ends_at").notNull(),
    autoStart: boolean("auto_start").notNull().default(true),
    autoEnd: boolean("auto_end").notNull().default(false),
    overrunAfterMs: integer("overrun_after_ms").notNull().default(900_000),
    status: text("status").notNull(),
    startedAt: ts("started_at"),
    completedAt: ts("completed_at"),
    remindedAt: ts("reminded_at"),
    overrunIncidentId: text("overrun_incident_id"),
    /** the recurring series this window is an occurrence of */
    seriesId: text("series_id"),
    createdAt: ts("created_at").notNull(),
    updatedAt: ts("updated_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.id] }),
    index("maintenances_open").on(t.status, t.startsAt),
    index("maintenances_workspace").on(t.workspaceId, t.startsAt),
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

// ---- People and access: users, sessions, one-time links, the audit log. ----

/** A person who signs in to the console. E-mail is unique across workspaces: login needs no workspace. */
export const users = pgTable(
  "users",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    /** lower-case */
    email: text("email").notNull(),
    name: text("name").notNull(),
    /** owner, admin, responder, support, finance, viewer: see access/permissions.ts */
    role: text("role").notNull(),
    locale: text("locale").notNull().default("en"),
    /** scrypt$N$r$p$salt$hash; null until an invited user sets one, or for OIDC-only users */
    passwordHash: text("password_hash"),
    /** base32 TOTP secret once confirmed; the pending one waits for the first valid code */
    totpSecret: text("totp_secret"),
    totpPendingSecret: text("totp_pending_secret"),
    /** the last TOTP time step accepted: a code is never accepted twice */
    totpLastStep: bigint("totp_last_step", { mode: "number" }),
    /** `issuer|subject` of an OpenID Connect identity linked to this user */
    oidcSubject: text("oidc_subject"),
    disabledAt: ts("disabled_at"),
    createdAt: ts("created_at").notNull(),
    updatedAt: ts("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("users_email").on(t.email),
    uniqueIndex("users_oidc_subject").on(t.oidcSubject),
    index("users_workspace").on(t.workspaceId),
  ],
);

/** Console sessions; the cookie carries the secret, the database only its SHA-256. */
export const sessions = pgTable(
  "sessions",
  {
    idHash: text("id_hash").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    workspaceId: text("workspace_id").notNull(),
    createdAt: ts("created_at").notNull(),
    lastSeenAt: ts("last_seen_at").notNull(),
    /** absolute end, whatever the activity */
    expiresAt: ts("expires_at").notNull(),
    ip: text("ip"),
    userAgent: text("user_agent"),
  },
  (t) => [index("sessions_user").on(t.userId)],
);

/** One-time links: first-run owner setup and invitations. Stored hashed, used once, expiring. */
export const oneTimeTokens = pgTable("one_time_tokens", {
  tokenHash: text("token_hash").primaryKey(),
  /** setup | invite */
  kind: text("kind").notNull(),
  workspaceId: text("workspace_id"),
  userId: text("user_id"),
  createdAt: ts("created_at").notNull(),
  expiresAt: ts("expires_at").notNull(),
  usedAt: ts("used_at"),
});

/** Who changed what, when, with before and after. Append-only: a trigger refuses UPDATE and DELETE. */
export const auditLog = pgTable(
  "audit_log",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    workspaceId: text("workspace_id").notNull(),
    at: ts("at").notNull(),
    /** user | token | local | monitor | system */
    actorKind: text("actor_kind").notNull(),
    actorId: text("actor_id").notNull(),
    actorName: text("actor_name").notNull(),
    /** e.g. incident.create, compensation-run.approve */
    action: text("action").notNull(),
    targetType: text("target_type").notNull(),
    targetId: text("target_id"),
    before: jsonb("before"),
    after: jsonb("after"),
    ip: text("ip"),
  },
  (t) => [
    index("audit_log_workspace").on(t.workspaceId, t.id),
    index("audit_log_target").on(t.workspaceId, t.targetType, t.targetId),
  ],
);

/**
 * Sign-in attempts counted per key (client address, e-mail) and window, shared by every app
 * process on the database, so that running more processes does not allow more guesses.
 */
export const rateLimitHits = pgTable(
  "rate_limit_hits",
  {
    key: text("key").primaryKey(),
    hits: integer("hits").notNull(),
    windowEnd: ts("window_end").notNull(),
  },
  (t) => [index("rate_limit_hits_window_end").on(t.windowEnd)],
);

/** Synthetic checks on components: what to probe, how often, and when a failure counts. */
export const monitors = pgTable(
  "monitors",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    id: text("id").notNull(),
    name: text("name").notNull(),
    /** http | tcp | dns | tls | ping | heartbeat */
    kind: text("kind").notNull(),
    target: text("target").notNull(),
    componentIds: text("component_ids").array().notNull().default(sql`'{}'::text[]`),
    intervalSeconds: integer("interval_seconds").notNull(),
    timeoutMs: integer("timeout_ms").notNull(),
    retries: integer("retries").notNull().default(0),
    /** {consecutive: N} or {of: {m, k}}: see core/monitors.ts */
    confirm: jsonb("confirm").notNull().$type<Record<string, unknown>>(),
    minLocations: integer("min_locations").notNull().default(1),
    assertions: jsonb("assertions").notNull().default({}).$type<Record<string, unknown>>(),
    /** open_incident | alert_team | status_only */
    onFailure: text("on_failure").notNull(),
    protocol: text("protocol"),
    /** up | down | pending | paused */
    state: text("state").notNull().default("pending"),
    stateChangedAt: ts("state_changed_at"),
    /** down, but passing since then: recovery waits for a quiet period */
    recoveringSince: ts("recovering_since"),
    /** recent state changes (epoch ms), for flap damping */
    transitions: jsonb("transitions").notNull().default([]).$type<number[]>(),
    /** the incident this monitor opened and will resolve on recovery */
    incidentId: text("incident_id"),
    /** heartbeat monitors: the secret in /hooks/heartbeat/{token} */
    heartbeatToken: text("heartbeat_token").unique(),
    lastHeartbeatAt: ts("last_heartbeat_at"),
    lastCheckAt: ts("last_check_at"),
    lastLatencyMs: integer("last_latency_ms"),
    createdAt: ts("created_at").notNull().defaultNow(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

/** Raw check results, kept 7 days; older ones live on as hourly and daily rollups. */
export const monitorResults = pgTable(
  "monitor_results",
  {
    workspaceId: text("workspace_id").notNull(),
    monitorId: text("monitor_id").notNull(),
    at: ts("at").notNull(),
    location: text("location").notNull(),
    ok: boolean("ok").notNull(),
    latencyMs: integer("latency_ms"),
    error: text("error"),
  },
  (t) => [index("monitor_results_monitor_at").on(t.workspaceId, t.monitorId, t.at)],
);

export const monitorRollups = pgTable(
  "monitor_rollups",
  {
    workspaceId: text("workspace_id").notNull(),
    monitorId: text("monitor_id").notNull(),
    /** hour | day */
    resolution: text("resolution").notNull(),
    at: ts("at").notNull(),
    checks: integer("checks").notNull(),
    failures: integer("failures").notNull(),
    latencyP50Ms: integer("latency_p50_ms"),
    latencyP95Ms: integer("latency_p95_ms"),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.monitorId, t.resolution, t.at] })],
);

/**
 * One row per (monitor, location, interval slot) taken: several server processes on one
 * PostgreSQL each schedule every monitor, and the first to insert the slot runs the check.
 */
export const monitorClaims = pgTable(
  "monitor_claims",
  {
    workspaceId: text("workspace_id").notNull(),
    monitorId: text("monitor_id").notNull(),
    location: text("location").notNull(),
    slot: bigint("slot", { mode: "number" }).notNull(),
    claimedAt: ts("claimed_at").notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.monitorId, t.location, t.slot] })],
);

/**
 * What monitors measured: each confirmed failure from confirmation to recovery, on the
 * components the monitor watched then. The page's uptime bars count these beside incidents.
 */
export const monitorOutages = pgTable(
  "monitor_outages",
  {
    workspaceId: text("workspace_id").notNull(),
    monitorId: text("monitor_id").notNull(),
    startedAt: ts("started_at").notNull(),
    endedAt: ts("ended_at"),
    componentIds: text("component_ids").array().notNull(),
    /** the status the monitor gave them (major_outage unless it says otherwise) */
    status: text("status").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.monitorId, t.startedAt] }),
    index("monitor_outages_ended").on(t.workspaceId, t.endedAt),
  ],
);

/** Remote `amends probe` processes: a location each, authenticated by a token of their own. */
export const probes = pgTable(
  "probes",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    id: text("id").notNull(),
    name: text("name").notNull(),
    location: text("location").notNull(),
    tokenHash: text("token_hash").notNull().unique(),
    createdAt: ts("created_at").notNull().defaultNow(),
    lastSeenAt: ts("last_seen_at"),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

/** Emergency protocols: an incident and its messages prepared in calm times, started in one action. */
export const protocols = pgTable(
  "protocols",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    name: text("name").notNull(),
    template: jsonb("template").notNull().$type<Record<string, unknown>>(),
    /** the incident its last start opened: starting again while it is open returns it */
    incidentId: text("incident_id"),
    createdAt: ts("created_at").notNull().defaultNow(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.name] })],
);

// ---- The public face: "I am affected" reports, recurring maintenance, post-incident reports. ----

/**
 * What a customer told us from the status page or the public API: what failed, where. Linked to
 * the open incident on that component when there is one (its compensation runs review them);
 * without one, enough of them within a window alert the team (customers as a monitor).
 */
export const affectedReports = pgTable(
  "affected_reports",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    id: text("id").notNull(),
    componentId: text("component_id").notNull(),
    city: text("city"),
    incidentId: text("incident_id"),
    /** the customer we recognised from the contact (id, e-mail or phone), if any */
    customerId: text("customer_id"),
    /** as given: customer reference, e-mail or phone; normalised e-mail/E.164 when recognisable */
    contact: text("contact"),
    contactChannel: text("contact_channel"),
    locale: text("locale").notNull(),
    text: text("text").notNull().default(""),
    createdAt: ts("created_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.id] }),
    index("affected_reports_component").on(t.workspaceId, t.componentId, t.createdAt),
    index("affected_reports_incident").on(t.workspaceId, t.incidentId),
  ],
);

/**
 * A recurring maintenance window: an RFC 5545 RRULE expanded in its IANA time zone (02:00
 * Europe/Rome stays 02:00 across DST). Occurrences are materialised ahead as ordinary rows of
 * `maintenances` (id `<series>.<local date>`), so they start, end, remind and overrun like one-offs.
 */
export const maintenanceSeries = pgTable(
  "maintenance_series",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    id: text("id").notNull(),
    title: text("title").notNull(),
    titleTranslations: jsonb("title_translations").notNull().default({}).$type<Record<string, string>>(),
    body: text("body").notNull(),
    bodyTranslations: jsonb("body_translations").notNull().default({}).$type<Record<string, string>>(),
    components: jsonb("components").notNull().$type<string[]>(),
    /** local wall time of the first occurrence, e.g. 2026-03-01T02:00 */
    firstStart: text("first_start").notNull(),
    timeZone: text("time_zone").notNull(),
    /** the RRULE line's value, e.g. FREQ=WEEKLY;BYDAY=SU */
    rrule: text("rrule").notNull(),
    durationMs: integer("duration_ms").notNull(),
    autoStart: boolean("auto_start").notNull().default(true),
    autoEnd: boolean("auto_end").notNull().default(false),
    overrunAfterMs: integer("overrun_after_ms").notNull().default(900_000),
    cancelledAt: ts("cancelled_at"),
    createdAt: ts("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

/**
 * The letter after an incident, in the shape of car2go's 2014 one: what happened, what we did,
 * what happens now for you (the make-good), what we change. Drafted from the timeline and the
 * compensation figures, edited and published by the operator; one per incident.
 */
export const postIncidentReports = pgTable(
  "post_incident_reports",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    incidentId: text("incident_id").notNull(),
    /** draft → published */
    status: text("status").notNull(),
    /** {what_happened, what_we_did, what_now, what_we_change} in the operator's language */
    sections: jsonb("sections").notNull().$type<Record<string, string>>(),
    /** the same sections in other languages: {"it": {...}} */
    translations: jsonb("translations").notNull().default({}).$type<Record<string, Record<string, string>>>(),
    /** counts per city and compensation totals the draft was written from */
    figures: jsonb("figures").notNull().$type<Record<string, unknown>>(),
    createdAt: ts("created_at").notNull(),
    updatedAt: ts("updated_at").notNull(),
    publishedAt: ts("published_at"),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.incidentId] }),
    foreignKey({
      columns: [t.workspaceId, t.incidentId],
      foreignColumns: [incidents.workspaceId, incidents.id],
    }),
  ],
);

/**
 * More pages per workspace: each shows chosen components (with their subtrees), is reached by
 * host name (a custom domain) or by path (/p/<id>/), and may be private — behind a password,
 * a login link e-mailed to addresses of chosen domains, or an IP allow-list (any one admits).
 */
export const statusPages = pgTable(
  "status_pages",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    id: text("id").notNull(),
    name: text("name").notNull(),
    /** lower-case host name, e.g. status.milan.example.com */
    hostname: text("hostname").unique(),
    components: jsonb("components").notNull().$type<string[]>(),
    /** scrypt$salt$hash, when a password admits */
    passwordHash: text("password_hash"),
    emailDomains: jsonb("email_domains").notNull().default([]).$type<string[]>(),
    /** addresses and CIDR ranges, e.g. 10.0.0.0/8 */
    ipAllow: jsonb("ip_allow").notNull().default([]).$type<string[]>(),
    createdAt: ts("created_at").notNull(),
    updatedAt: ts("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);
