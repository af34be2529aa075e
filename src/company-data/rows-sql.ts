/**
 * The row schemas of rows.ts once more, as SQL over the bulk import's staging table: one text
 * column per field holding the file's string (null when the row has no such field), and `raw`
 * set on the rows only the zod schema can judge (see copy-source.ts).
 *
 * The SQL verdict may be stricter than zod's, never looser, and what it stores is what zod's
 * path stores. A valid row it refuses (long non-ASCII text, a currency in non-ASCII letters, more
 * than 30 digits of minor units, year 0000 with an offset) sends the file down the zod path:
 * slower, same result. The property test in company-data-import.test.ts holds the two together.
 */
import { z } from "zod";
import { ID_PATTERN } from "../lib/ids.ts";
import type { ImportKind } from "./rows.ts";

export type FieldType =
  | "id"
  | "idOpt"
  | "kind"
  | "text64"
  | "text200"
  | "locale"
  | "email"
  | "phone"
  | "stripe"
  | "channels"
  | "flag"
  | "minorOpt"
  | "minor0"
  | "minorReq"
  | "currency"
  | "currencyOpt"
  | "status"
  | "instant"
  | "instantOpt"
  | "invoice";

/** Each kind's fields (the keys of its schema in rows.ts) and how each is read. */
export const FIELDS: Record<ImportKind, Record<string, FieldType>> = {
  customers: {
    id: "id",
    name: "text200",
    home_region: "text64",
    plan: "text64",
    locale: "locale",
    email: "email",
    phone: "phone",
    channels: "channels",
    sms_entitled: "flag",
    monthly_fee: "minorOpt",
    currency: "currencyOpt",
    stripe_customer_id: "stripe",
  },
  sessions: {
    id: "id",
    customer_id: "id",
    kind: "kind",
    component_id: "idOpt",
    region: "text64",
    started_at: "instant",
    ended_at: "instantOpt",
    charge: "minor0",
    currency: "currency",
    refunded: "minor0",
  },
  charges: {
    id: "id",
    customer_id: "id",
    usage_ref: "idOpt",
    amount: "minorReq",
    currency: "currency",
    status: "status",
    created_at: "instant",
    amount_refunded: "minor0",
    invoice_id: "invoice",
  },
};

/** Fields whose schema reads null as it reads an empty cell: an NDJSON null may be staged as "". */
export const BLANKABLE = (type: FieldType) => !["id", "kind", "currency", "status", "instant"].includes(type);
export const MINOR = (type: FieldType) => type === "minorOpt" || type === "minor0" || type === "minorReq";

const STATUSES = ["succeeded", "pending", "failed", "canceled", "authorized", "disputed"];

const lit = (s: string) => `'${s.replaceAll("'", "''")}'`;
/** A JS regex's source as a PostgreSQL one: `\d` is ASCII digits in JS, not always in PostgreSQL. */
const re = (source: string) => lit(source.replaceAll("\\d", "[0-9]").replaceAll("\\-", "-"));
/** What String.prototype.trim removes; PostgreSQL's btrim removes spaces only unless told. */
const JS_WHITESPACE =
  "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff";
const trim = (c: string) => `btrim(${c}, ${lit(JS_WHITESPACE)})`;
const blank = (c: string) => `coalesce(${c}, '') = ''`;
/** At most `max` UTF-16 units (zod's length) for sure: a code point is one or two of them. */
const fits = (x: string, max: number) => `(octet_length(${x}) <= ${max} or length(${x}) * 2 <= ${max})`;

const ID = re(ID_PATTERN.source);
const EMAIL = re(z.regexes.email.source);
const DATETIME = re(z.regexes.datetime({ offset: true }).source);
const LOCALE = lit("^[a-z]{2}(-[A-Z]{2})?$");
const PHONE = lit("^\\+[0-9 ()-]{6,20}$");
const STRIPE = lit("^cus_[A-Za-z0-9]{1,250}$");
const INTEGER = lit("^-?[0-9]{1,30}$");
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** JS's Date keeps milliseconds and truncates the rest; PostgreSQL would round to microseconds. */
const instant = (c: string) =>
  `(case when ${c} ~ '\\.[0-9]{4}' then regexp_replace(${c}, '(\\.[0-9]{3})[0-9]+', '\\1') else ${c} end)::timestamptz`;
const minor = (c: string) =>
  `(case when ${trim(c)} ~ ${INTEGER} then ${trim(c)}::numeric between 0 and ${MAX_SAFE} else false end)`;
// Year 0000 is zod's to judge: PostgreSQL has no such year and would fail the whole statement.
const instantValid = (c: string) =>
  `(case when ${c} ~ ${DATETIME} and left(${c}, 4) <> '0000' then ${instant(c)} between '0001-01-01T00:00:00Z' and '9999-12-31T23:59:59.999Z' else false end)`;

/** Whether the cell is valid; never fails, whatever the text. */
function valid(c: string, type: FieldType): string {
  switch (type) {
    case "id":
      return `coalesce(${trim(c)} ~ ${ID}, false)`;
    case "idOpt":
      return `(${blank(c)} or ${trim(c)} ~ ${ID})`;
    case "kind":
      return `coalesce(${trim(c)} <> '' and ${fits(trim(c), 64)}, false)`;
    case "text64":
    case "text200":
      return `(${blank(c)} or (${trim(c)} <> '' and ${fits(trim(c), type === "text64" ? 64 : 200)}))`;
    case "locale":
      return `(${blank(c)} or ${c} ~ ${LOCALE})`;
    case "email":
      return `(${blank(c)} or ${c} ~ ${EMAIL})`;
    case "phone":
      return `(${blank(c)} or ${c} ~ ${PHONE})`;
    case "stripe":
      return `(${blank(c)} or ${c} ~ ${STRIPE})`;
    case "channels":
      return "true"; // checked by zod as it is staged
    case "flag":
      return `(${blank(c)} or lower(${trim(c)}) in ('true', 'yes', '1', 'false', 'no', '0'))`;
    case "minorOpt":
    case "minor0":
      return `(${blank(c)} or ${minor(c)})`;
    case "minorReq":
      return `(not ${blank(c)} and ${minor(c)})`;
    case "currency":
      return `coalesce(${trim(c)} ~ '^[A-Za-z]{3}$', false)`;
    case "currencyOpt":
      return `(${blank(c)} or ${trim(c)} ~ '^[A-Za-z]{3}$')`;
    case "status":
      return `coalesce(${c} in (${STATUSES.map(lit).join(", ")}), false)`;
    case "instant":
      return instantValid(c);
    case "instantOpt":
      return `(${blank(c)} or ${instantValid(c)})`;
    case "invoice":
      return `(${blank(c)} or ${fits(trim(c), 255)})`;
  }
}

/** The value zod's path would store, for a valid cell. */
function value(c: string, type: FieldType): string {
  switch (type) {
    case "id":
    case "kind":
      return trim(c);
    case "idOpt":
    case "text64":
    case "text200":
      return `nullif(${trim(c)}, '')`;
    case "locale":
      return `coalesce(nullif(${c}, ''), 'en')`;
    case "email":
    case "phone":
    case "stripe":
    case "channels":
      return `nullif(${c}, '')`;
    case "flag":
      return `coalesce(lower(${trim(c)}) in ('true', 'yes', '1'), false)`;
    case "minorOpt":
    case "minorReq":
      return `nullif(${trim(c)}, '')::bigint`;
    case "minor0":
      return `coalesce(nullif(${trim(c)}, '')::bigint, 0)`;
    case "currency":
      return `upper(${trim(c)})`;
    case "currencyOpt":
      return `upper(nullif(${trim(c)}, ''))`;
    case "status":
      return c;
    case "instant":
      return instant(c);
    case "instantOpt":
      return `(case when ${blank(c)} then null else ${instant(c)} end)`;
    case "invoice":
      return `(case when ${blank(c)} then null else ${trim(c)} end)`;
  }
}

/** The schemas' checks across fields (superRefine), on valid cells. */
const ACROSS: Record<ImportKind, string> = {
  customers: "true",
  sessions: `(${blank("ended_at")} or ${value("ended_at", "instantOpt")} >= ${value("started_at", "instant")})
    and ${value("refunded", "minor0")} <= ${value("charge", "minor0")}`,
  charges: `${value("amount_refunded", "minor0")} <= ${value("amount", "minorReq")}`,
};

export const STAGING = "import_staging";

/** The staging table: the line, the row as JSON when only zod can judge it, then one text per field. */
export const stagingColumns = (kind: ImportKind) => ["line", "raw", ...Object.keys(FIELDS[kind])];
export const createStagingSql = (kind: ImportKind) =>
  `create temp table ${STAGING} (line integer not null, raw text, ${Object.keys(FIELDS[kind])
    .map((f) => `${f} text`)
    .join(", ")}) on commit drop`;

/** Whether a staged row is valid: each check guards the casts of the ones after it. */
export function validSql(kind: ImportKind): string {
  const checks = Object.entries(FIELDS[kind]).map(([f, type]) => `when not ${valid(f, type)} then false`);
  return `(case when raw is not null then false ${checks.join(" ")} else ${ACROSS[kind]} end)`;
}

/** One pass over the staging: its rows, and whether any is not valid. */
export const checkSql = (kind: ImportKind) =>
  `select count(*)::int as rows, coalesce(bool_or(not ${validSql(kind)}), false) as bad from ${STAGING}`;

/** Whether a staged session or charge names a customer the workspace does not have ($1). */
export const missingCustomerSql = `select exists (select from ${STAGING} s where not exists (
    select from customers c where c.workspace_id = $1 and c.id = ${trim("s.customer_id")})) as missing`;

const TARGET: Record<ImportKind, { table: string; columns: Record<string, string>; extra?: string }> = {
  customers: {
    table: "customers",
    columns: {
      id: "id",
      name: "name",
      home_region: "home_region",
      plan: "plan",
      locale: "locale",
      channels: "channels",
      sms_entitled: "sms_entitled",
      monthly_fee: "monthly_fee",
      currency: "currency",
      stripe_customer_id: "stripe_customer_id",
    },
  },
  sessions: {
    table: "usage_sessions",
    columns: {
      id: "id",
      customer_id: "customer_id",
      kind: "kind",
      component_id: "component_id",
      region: "region",
      started_at: "started_at",
      ended_at: "ended_at",
      charge: "charge",
      currency: "currency",
      refunded: "refunded",
    },
  },
  charges: {
    table: "charges",
    columns: {
      id: "id",
      customer_id: "customer_id",
      usage_ref: "usage_ref",
      amount: "amount",
      currency: "currency",
      status: "status",
      created_at: "created_at",
      amount_refunded: "amount_refunded",
      invoice_id: "invoice_id",
    },
  },
};

/** The channels zod's path stores: the given ones, else email then SMS from the contact fields. */
const CHANNELS = `coalesce(nullif(channels, '')::jsonb,
  (case when ${blank("email")} then '[]'::jsonb else jsonb_build_array(jsonb_build_object('type', 'email', 'address', email)) end)
  || (case when ${blank("phone")} then '[]'::jsonb else jsonb_build_array(jsonb_build_object('type', 'sms', 'address', phone)) end))`;

/**
 * Upserts the valid staging into the kind's table for workspace $1, as store.ts does: the same
 * id twice in a file, the later line wins.
 */
export function upsertSql(kind: ImportKind): string {
  const { table, columns } = TARGET[kind];
  const names = Object.values(columns);
  const values = Object.entries(columns).map(([field, column]) => {
    const type = FIELDS[kind][field]!;
    return `${field === "channels" ? CHANNELS : value(field, type)} as ${column}`;
  });
  const updates = names
    .filter((n) => n !== "id")
    .map((n) => `${n} = excluded.${n}`)
    .concat(kind === "customers" ? ["updated_at = now()"] : []);
  const stamp = kind === "customers" ? ", updated_at" : "";
  const insert = `insert into ${table} (workspace_id, ${names.join(", ")}${stamp})
    select $1, ${names.join(", ")}${kind === "customers" ? ", now()" : ""}
    from (select distinct on (id) ${values.join(", ")} from ${STAGING} order by id, line desc) s
    on conflict (workspace_id, id) do update set ${updates.join(", ")}`;
  // The longest closed session written, for usage_bounds, as store.ts reckons it.
  return kind !== "sessions"
    ? insert
    : `with written as (${insert} returning started_at, ended_at)
      select max(extract(epoch from ended_at - started_at) * 1000)::float8 as longest from written`;
}
