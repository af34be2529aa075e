/**
 * The rows a company sends us, as they arrive from CSV, NDJSON or JSON: one schema per kind,
 * coercing CSV's strings, with errors that name the column.
 */
import { z } from "zod";
import { CURRENCY_PATTERN } from "../core/money.ts";
import { Instant as instant } from "../http/zod.ts";
import { ID_PATTERN } from "../lib/ids.ts";
import type { ChargeRow, CustomerRow, SessionRow } from "./store.ts";

export const LOCALE_PATTERN = /^[a-z]{2}(-[A-Z]{2})?$/;
export const PHONE_PATTERN = /^\+[0-9 ()-]{6,20}$/;
export const STRIPE_CUSTOMER_PATTERN = /^cus_[A-Za-z0-9]{1,250}$/;
export const STATUSES = ["succeeded", "pending", "failed", "canceled", "authorized", "disputed"] as const;

const blankToUndefined = (v: unknown) => (v === "" || v === null ? undefined : v);
// PostgreSQL stores no NUL in text, nor half a surrogate pair in jsonb: refused here, not by a 500.
const noNul = (s: string) => !s.includes("\0");
const storableText = (min: number, max: number) =>
  z.string().trim().min(min).max(max).refine(noNul, "must not contain a NUL character");
const text = (max = 200) => z.preprocess(blankToUndefined, storableText(1, max).optional());
const id = z.string().trim().regex(ID_PATTERN, "use 1–64 letters, digits, '.', '_', ':' or '-'");
/** Minor units; CSV's text is read as an integer. An empty cell is absent. */
function minor(name: string): z.ZodType<number>;
function minor(name: string, fallback: "optional"): z.ZodType<number | undefined>;
function minor(name: string, fallback: number): z.ZodType<number>;
function minor(name: string, fallback?: "optional" | number): z.ZodType<number | undefined> {
  const int = z
    .number({ error: `${name} must be an integer in minor units` })
    .int(`${name} must be an integer in minor units`)
    .min(0, `${name} cannot be negative`)
    .max(Number.MAX_SAFE_INTEGER);
  const inner =
    fallback === "optional" ? int.optional() : fallback !== undefined ? int.default(fallback) : int;
  return z.preprocess(
    (v) =>
      v === "" || v === null ? undefined : typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v) : v,
    inner,
  ) as z.ZodType<number | undefined>;
}
const currency = z
  .string()
  .trim()
  .toUpperCase()
  .regex(CURRENCY_PATTERN, "expected an ISO 4217 code such as EUR");

/** true/false, CSV's true/false/yes/no/1/0; an empty cell is false. */
const flag = z.preprocess(
  (v) => {
    if (v === "" || v === null || v === undefined) return false;
    if (typeof v !== "string") return v;
    const t = v.trim().toLowerCase();
    return ["true", "yes", "1"].includes(t) ? true : ["false", "no", "0"].includes(t) ? false : v;
  },
  z.boolean({ error: "expected true or false" }),
);

/** A CSV cell holding JSON; left as text when it is not JSON, so the schema reports it. */
function parseJsonCell(v: unknown): unknown {
  if (typeof v !== "string") return blankToUndefined(v);
  if (!v.trim()) return undefined;
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

const Channel = z.strictObject({
  type: z.enum(["email", "sms", "push", "webhook", "slack", "teams", "discord", "telegram"]),
  address: z
    .string()
    .min(1)
    .max(2000)
    .refine((s) => noNul(s) && !/\p{Cs}/u.test(s), "must not contain a NUL or an unpaired surrogate"),
});
/** A customer's channels as given: a JSON array (or, in CSV, its text), or nothing. */
export const ChannelsIn = z.preprocess(
  parseJsonCell,
  z.array(Channel, { error: "expected a JSON array of {type, address}" }).optional(),
);

export const CustomerIn = z
  .strictObject({
    id,
    name: text(),
    home_region: text(64),
    plan: text(64),
    locale: z.preprocess(
      blankToUndefined,
      z.string().regex(LOCALE_PATTERN, "expected a locale such as it or en-GB").default("en"),
    ),
    email: z.preprocess(blankToUndefined, z.email("not an email address").optional()),
    phone: z.preprocess(
      blankToUndefined,
      z.string().regex(PHONE_PATTERN, "expected an international number such as +39 347 1234567").optional(),
    ),
    channels: ChannelsIn,
    /** bought the paid SMS alerts add-on */
    sms_entitled: flag,
    monthly_fee: minor("monthly_fee", "optional"),
    currency: z.preprocess(blankToUndefined, currency.optional()),
    stripe_customer_id: z.preprocess(
      blankToUndefined,
      z
        .string()
        .regex(STRIPE_CUSTOMER_PATTERN, "expected a Stripe customer id such as cus_NffrFeUfNV2Hib")
        .optional(),
    ),
  })
  .transform(
    (r): CustomerRow => ({
      id: r.id,
      name: r.name ?? null,
      homeRegion: r.home_region ?? null,
      plan: r.plan ?? null,
      locale: r.locale,
      channels: r.channels ?? [
        ...(r.email ? [{ type: "email", address: r.email }] : []),
        ...(r.phone ? [{ type: "sms", address: r.phone }] : []),
      ],
      smsEntitled: r.sms_entitled,
      monthlyFee: r.monthly_fee ?? null,
      currency: r.currency ?? null,
      stripeCustomerId: r.stripe_customer_id ?? null,
    }),
  );

export const SessionIn = z
  .strictObject({
    id,
    customer_id: id,
    kind: storableText(1, 64),
    component_id: z.preprocess(blankToUndefined, id.optional()),
    region: text(64),
    started_at: instant,
    ended_at: z.preprocess(blankToUndefined, instant.optional()),
    charge: minor("charge", 0),
    currency,
    refunded: minor("refunded", 0),
  })
  .superRefine((r, ctx) => {
    if (r.ended_at && r.ended_at < r.started_at)
      ctx.addIssue({ code: "custom", path: ["ended_at"], message: "is before started_at" });
    if (r.refunded > r.charge)
      ctx.addIssue({ code: "custom", path: ["refunded"], message: "is more than the charge" });
  })
  .transform(
    (r): SessionRow => ({
      id: r.id,
      customerId: r.customer_id,
      kind: r.kind,
      componentId: r.component_id ?? null,
      region: r.region ?? null,
      startedAt: r.started_at,
      endedAt: r.ended_at ?? null,
      charge: r.charge,
      currency: r.currency,
      refunded: r.refunded,
    }),
  );

export const ChargeIn = z
  .strictObject({
    id,
    customer_id: id,
    usage_ref: z.preprocess(blankToUndefined, id.optional()),
    amount: minor("amount"),
    currency,
    status: z.enum(STATUSES, {
      error: "expected succeeded, pending, failed, canceled, authorized or disputed",
    }),
    created_at: instant,
    amount_refunded: minor("amount_refunded", 0),
    invoice_id: z.preprocess(blankToUndefined, storableText(0, 255).optional()),
  })
  .superRefine((r, ctx) => {
    if (r.amount_refunded > r.amount)
      ctx.addIssue({ code: "custom", path: ["amount_refunded"], message: "is more than the amount" });
  })
  .transform(
    (r): ChargeRow => ({
      id: r.id,
      customerId: r.customer_id,
      usageRef: r.usage_ref ?? null,
      amount: r.amount,
      currency: r.currency,
      status: r.status,
      createdAt: r.created_at,
      amountRefunded: r.amount_refunded,
      invoiceId: r.invoice_id ?? null,
    }),
  );

export const IMPORT_KINDS = { customers: CustomerIn, sessions: SessionIn, charges: ChargeIn } as const;
export type ImportKind = keyof typeof IMPORT_KINDS;

/** Header names people use for the same column. */
export const COLUMN_ALIASES: Record<string, string> = {
  cust: "customer_id",
  customer: "customer_id",
  start: "started_at",
  end: "ended_at",
  component: "component_id",
  already_refunded: "refunded",
  home_city: "home_region",
  created: "created_at",
};
