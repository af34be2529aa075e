/**
 * Bulk upserts of the company's own data (customers, usage sessions, charges), idempotent by
 * id. One statement per chunk with `unnest` arrays: several times faster than row inserts on
 * both backends, and a chunk is all-or-nothing.
 */
import type { Database } from "../storage/database.ts";

export interface CustomerRow {
  id: string;
  name: string | null;
  homeRegion: string | null;
  plan: string | null;
  locale: string;
  channels: { type: string; address: string }[];
  smsEntitled: boolean;
  monthlyFee: number | null;
  currency: string | null;
  /** their customer in Stripe (cus_…) */
  stripeCustomerId?: string | null;
}

export interface SessionRow {
  id: string;
  customerId: string;
  kind: string;
  componentId: string | null;
  region: string | null;
  startedAt: Date;
  endedAt: Date | null;
  charge: number;
  currency: string;
  refunded: number;
}

export interface ChargeRow {
  id: string;
  customerId: string;
  usageRef: string | null;
  amount: number;
  currency: string;
  status: string;
  createdAt: Date;
  amountRefunded: number;
  invoiceId?: string | null;
}

const CHUNK = 5_000;
const iso = (d: Date | null) => (d ? d.toISOString() : null);

async function inChunks<T>(rows: readonly T[], write: (chunk: readonly T[]) => Promise<unknown>) {
  for (let i = 0; i < rows.length; i += CHUNK) await write(rows.slice(i, i + CHUNK));
}

export async function upsertCustomers(database: Database, workspaceId: string, rows: readonly CustomerRow[]) {
  await inChunks(rows, (c) =>
    database.query(
      `insert into customers (workspace_id, id, name, home_region, plan, locale, channels, monthly_fee, currency, sms_entitled, stripe_customer_id, updated_at)
       select $1, id, name, home_region, plan, locale, channels::jsonb, monthly_fee, currency, sms_entitled, stripe_customer_id, now()
       from unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::text[], $10::boolean[], $11::text[])
         as t(id, name, home_region, plan, locale, channels, monthly_fee, currency, sms_entitled, stripe_customer_id)
       on conflict (workspace_id, id) do update set name = excluded.name, home_region = excluded.home_region,
         plan = excluded.plan, locale = excluded.locale, channels = excluded.channels, sms_entitled = excluded.sms_entitled,
         monthly_fee = excluded.monthly_fee, currency = excluded.currency, stripe_customer_id = excluded.stripe_customer_id,
         updated_at = now()`,
      [
        workspaceId,
        c.map((r) => r.id),
        c.map((r) => r.name),
        c.map((r) => r.homeRegion),
        c.map((r) => r.plan),
        c.map((r) => r.locale),
        c.map((r) => JSON.stringify(r.channels)),
        c.map((r) => r.monthlyFee),
        c.map((r) => r.currency),
        c.map((r) => r.smsEntitled),
        c.map((r) => r.stripeCustomerId ?? null),
      ],
    ),
  );
}

export async function upsertSessions(database: Database, workspaceId: string, rows: readonly SessionRow[]) {
  await inChunks(rows, async (c) => {
    await database.query(
      `insert into usage_sessions (workspace_id, id, customer_id, kind, component_id, region, started_at, ended_at, charge, currency, refunded)
       select $1, id, customer_id, kind, component_id, region, started_at::timestamptz, ended_at::timestamptz, charge, currency, refunded
       from unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[], $10::text[], $11::bigint[])
         as t(id, customer_id, kind, component_id, region, started_at, ended_at, charge, currency, refunded)
       on conflict (workspace_id, id) do update set customer_id = excluded.customer_id, kind = excluded.kind,
         component_id = excluded.component_id, region = excluded.region, started_at = excluded.started_at,
         ended_at = excluded.ended_at, charge = excluded.charge, currency = excluded.currency, refunded = excluded.refunded`,
      [
        workspaceId,
        c.map((r) => r.id),
        c.map((r) => r.customerId),
        c.map((r) => r.kind),
        c.map((r) => r.componentId),
        c.map((r) => r.region),
        c.map((r) => iso(r.startedAt)),
        c.map((r) => iso(r.endedAt)),
        c.map((r) => r.charge),
        c.map((r) => r.currency),
        c.map((r) => r.refunded),
      ],
    );
    await raiseSessionBound(database, workspaceId, longestSession(c));
  });
}

/** The longest closed session of these rows, in milliseconds; -1 when none is closed. */
function longestSession(rows: readonly SessionRow[]): number {
  let longest = -1;
  for (const r of rows)
    if (r.endedAt) longest = Math.max(longest, r.endedAt.getTime() - r.startedAt.getTime());
  return longest;
}

/**
 * Keeps usage_bounds at least the longest closed session, which previews rely on. Written
 * only when an import beats it, so concurrent imports rarely wait on its row.
 */
export async function raiseSessionBound(database: Database, workspaceId: string, longest: number) {
  if (longest < 0) return;
  await database.query(
    `insert into usage_bounds (workspace_id, longest_session_ms)
     select $1, $2 where not exists (select from usage_bounds where workspace_id = $1 and longest_session_ms >= $2)
     on conflict (workspace_id) do update set longest_session_ms = greatest(usage_bounds.longest_session_ms, excluded.longest_session_ms)`,
    [workspaceId, longest],
  );
}

/**
 * Moves the workspace's usage_versions on: sessions or charges changed, so what a run previewed
 * before is read again when it is applied. Once per import, at its end: the row stays locked
 * only until the import commits.
 */
export async function markUsageChanged(tx: Database, workspaceId: string) {
  await tx.query(
    `insert into usage_versions (workspace_id, version) values ($1, 1)
     on conflict (workspace_id) do update set version = usage_versions.version + 1`,
    [workspaceId],
  );
}

export async function upsertCharges(database: Database, workspaceId: string, rows: readonly ChargeRow[]) {
  await inChunks(rows, (c) =>
    database.query(
      `insert into charges (workspace_id, id, customer_id, usage_ref, amount, currency, status, created_at, amount_refunded, invoice_id)
       select $1, id, customer_id, usage_ref, amount, currency, status, created_at::timestamptz, amount_refunded, invoice_id
       from unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::bigint[], $10::text[])
         as t(id, customer_id, usage_ref, amount, currency, status, created_at, amount_refunded, invoice_id)
       on conflict (workspace_id, id) do update set customer_id = excluded.customer_id, usage_ref = excluded.usage_ref,
         amount = excluded.amount, currency = excluded.currency, status = excluded.status,
         created_at = excluded.created_at, amount_refunded = excluded.amount_refunded, invoice_id = excluded.invoice_id`,
      [
        workspaceId,
        c.map((r) => r.id),
        c.map((r) => r.customerId),
        c.map((r) => r.usageRef),
        c.map((r) => r.amount),
        c.map((r) => r.currency),
        c.map((r) => r.status),
        c.map((r) => iso(r.createdAt)),
        c.map((r) => r.amountRefunded),
        c.map((r) => r.invoiceId ?? null),
      ],
    ),
  );
}

export async function countCompanyData(database: Database, workspaceId: string) {
  const [row] = await database.query<{ customers: number; sessions: number; charges: number }>(
    `select (select count(*)::int from customers where workspace_id = $1) as customers,
            (select count(*)::int from usage_sessions where workspace_id = $1) as sessions,
            (select count(*)::int from charges where workspace_id = $1) as charges`,
    [workspaceId],
  );
  return row!;
}
