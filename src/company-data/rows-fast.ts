/**
 * The row schemas of rows.ts once more, by hand: the same rules with the same patterns, but a
 * few hundred nanoseconds a row instead of zod's microseconds, for the bulk import. A row gives
 * the values its table stores, or undefined when it is not valid: zod then words the errors. The property test in
 * company-data-import.test.ts holds the two to the same verdicts and the same values.
 */
import { z } from "zod";
import { CURRENCY_PATTERN } from "../core/money.ts";
import { ID_PATTERN } from "../lib/ids.ts";
import {
  ChannelsIn,
  type ImportKind,
  LOCALE_PATTERN,
  PHONE_PATTERN,
  STATUSES,
  STRIPE_CUSTOMER_PATTERN,
} from "./rows.ts";

/** A stored value as COPY text reads it; null is NULL. */
export type Value = string | null;

const BAD = Symbol("bad");
type Field = (v: unknown) => Value | typeof BAD;

const DATETIME = z.regexes.datetime({ offset: true });
const EMAIL = z.regexes.email;
const INTEGER = /^-?\d+$/;
const statuses: readonly string[] = STATUSES;

const blank = (v: unknown) => v === undefined || v === null || v === "";
/** rows.ts refuses a NUL in text: PostgreSQL cannot store it. */
const storable = (s: string) => (s.includes("\0") ? BAD : s);

const id: Field = (v) => {
  if (typeof v !== "string") return BAD;
  const t = v.trim();
  return ID_PATTERN.test(t) ? t : BAD;
};
const optional =
  (field: Field, absent: Value = null): Field =>
  (v) =>
    blank(v) ? absent : field(v);
const text =
  (max: number): Field =>
  (v) => {
    if (typeof v !== "string") return BAD;
    const t = v.trim();
    return t.length >= 1 && t.length <= max ? storable(t) : BAD;
  };
const pattern =
  (re: RegExp): Field =>
  (v) =>
    typeof v === "string" && re.test(v) ? v : BAD;
/** minor() of rows.ts: CSV's digits are read as a number; the number must be a safe integer ≥ 0. */
const minor =
  (absent: Value | typeof BAD): Field =>
  (v) => {
    const n =
      v === "" || v === null ? undefined : typeof v === "string" && INTEGER.test(v.trim()) ? Number(v) : v;
    if (n === undefined) return absent;
    return typeof n === "number" && Number.isSafeInteger(n) && n >= 0 ? String(n) : BAD;
  };
const currency: Field = (v) => {
  if (typeof v !== "string") return BAD;
  const t = v.trim().toUpperCase();
  return CURRENCY_PATTERN.test(t) ? t : BAD;
};
/** Instant of http/zod.ts: an ISO date-time with Z or an offset, years 1 to 9999, to the millisecond. */
const instant: Field = (v) => {
  if (typeof v !== "string" || !DATETIME.test(v)) return BAD;
  const d = new Date(v);
  const year = d.getUTCFullYear();
  return year >= 1 && year <= 9999 ? d.toISOString() : BAD;
};
const flag: Field = (v) => {
  if (blank(v)) return "false";
  if (typeof v === "boolean") return String(v);
  if (typeof v !== "string") return BAD;
  const t = v.trim().toLowerCase();
  return t === "true" || t === "yes" || t === "1"
    ? "true"
    : t === "false" || t === "no" || t === "0"
      ? "false"
      : BAD;
};
const invoice: Field = (v) => {
  if (typeof v !== "string") return BAD;
  const t = v.trim();
  return t.length <= 255 ? storable(t) : BAD;
};
const status: Field = (v) => (typeof v === "string" && statuses.includes(v) ? v : BAD);

interface Kind {
  /** the schema's fields, each read to the value stored (fields stored under another name too) */
  fields: Record<string, Field>;
  /** false when a check across fields fails; may add columns made of several fields */
  complete?(f: Record<string, Value>): boolean;
  /** the stored columns, read from the fields' values by name */
  columns: string[];
  /** each column's type in the staging table */
  types: string[];
}

const KINDS: Record<ImportKind, Kind> = {
  customers: {
    fields: {
      id,
      name: optional(text(200)),
      home_region: optional(text(64)),
      plan: optional(text(64)),
      locale: optional(pattern(LOCALE_PATTERN), "en"),
      email: optional((v) => (typeof v === "string" && EMAIL.test(v) ? v : BAD)),
      phone: optional(pattern(PHONE_PATTERN)),
      channels: (v) => {
        const parsed = ChannelsIn.safeParse(v);
        return !parsed.success ? BAD : parsed.data === undefined ? null : JSON.stringify(parsed.data);
      },
      sms_entitled: flag,
      monthly_fee: minor(null),
      currency: optional(currency),
      stripe_customer_id: optional(pattern(STRIPE_CUSTOMER_PATTERN)),
    },
    complete: (f) => {
      f.channels ??= JSON.stringify([
        ...(f.email ? [{ type: "email", address: f.email }] : []),
        ...(f.phone ? [{ type: "sms", address: f.phone }] : []),
      ]);
      return true;
    },
    columns: [
      "id",
      "name",
      "home_region",
      "plan",
      "locale",
      "channels",
      "sms_entitled",
      "monthly_fee",
      "currency",
      "stripe_customer_id",
    ],
    types: ["text", "text", "text", "text", "text", "jsonb", "boolean", "bigint", "text", "text"],
  },
  sessions: {
    fields: {
      id,
      customer_id: id,
      kind: text(64),
      component_id: optional(id),
      region: optional(text(64)),
      started_at: instant,
      ended_at: optional(instant),
      charge: minor("0"),
      currency,
      refunded: minor("0"),
    },
    // ISO text sorts as time
    complete: (f) =>
      (f.ended_at === null || f.ended_at! >= f.started_at!) && Number(f.refunded) <= Number(f.charge),
    columns: [
      "id",
      "customer_id",
      "kind",
      "component_id",
      "region",
      "started_at",
      "ended_at",
      "charge",
      "currency",
      "refunded",
    ],
    types: ["text", "text", "text", "text", "text", "timestamptz", "timestamptz", "bigint", "text", "bigint"],
  },
  charges: {
    fields: {
      id,
      customer_id: id,
      usage_ref: optional(id),
      amount: minor(BAD),
      currency,
      status,
      created_at: instant,
      amount_refunded: minor("0"),
      invoice_id: optional(invoice),
    },
    complete: (f) => Number(f.amount_refunded) <= Number(f.amount),
    columns: [
      "id",
      "customer_id",
      "usage_ref",
      "amount",
      "currency",
      "status",
      "created_at",
      "amount_refunded",
      "invoice_id",
    ],
    types: ["text", "text", "text", "bigint", "text", "text", "timestamptz", "bigint", "text"],
  },
};

/** The columns a kind's rows fill, and their types in the staging table. */
export const storedColumns = (kind: ImportKind) => KINDS[kind].columns;
export const storedTypes = (kind: ImportKind) => KINDS[kind].types;

/** A record's stored values (`storedColumns` order), or undefined when zod must judge it. */
export function fastRow(kind: ImportKind, record: unknown): Value[] | undefined {
  if (record === null || typeof record !== "object" || Array.isArray(record)) return undefined;
  const { fields, complete, columns } = KINDS[kind];
  const r = record as Record<string, unknown>;
  for (const key in r) if (!Object.hasOwn(fields, key)) return undefined;
  const values: Record<string, Value> = {};
  for (const name in fields) {
    const v = fields[name]!(r[name]);
    if (v === BAD) return undefined;
    values[name] = v;
  }
  if (complete && !complete(values)) return undefined;
  return columns.map((c) => values[c] ?? null);
}
