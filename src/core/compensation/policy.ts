/**
 * The compensation policy language. A policy says which customers an incident (or a billing
 * fault) hurt, and what each gets. It is written in YAML (see compensation/policy-yaml.ts for
 * line/column errors) and validated here; `policyJsonSchema()` publishes the same rules for
 * editors.
 *
 * Amounts are integers in minor units: a bare number is in the customer's currency (or the
 * policy's `currency`), a map gives one amount per currency. Percentages are decimal strings.
 * Durations are ISO 8601 (`PT30M`, `P7D`). Windows are half-open: `[start,end)`.
 */
import { z } from "zod";
import { CURRENCY_PATTERN, compare, fraction, parseDecimal } from "../money.ts";
import { isKnownHolidayCalendar, isKnownTimeZone, parseDuration, parseWindow } from "./time.ts";

/** A string the given parser accepts (the parser throws on anything else). */
const parsedBy = (parse: (s: string) => unknown, message: string) =>
  z.string().refine(
    (s) => {
      try {
        parse(s);
        return true;
      } catch {
        return false;
      }
    },
    { message },
  );

const Duration = parsedBy(
  parseDuration,
  "expected an ISO 8601 duration of up to 100 years in weeks, days, hours, minutes or seconds, e.g. PT30M or P7D",
).describe("ISO 8601 duration, e.g. PT30M, P7D");

const Decimal = z
  .union([z.string(), z.number()])
  .transform((v) => String(v))
  .refine((s) => /^\d+(\.\d+)?$/.test(s), { message: 'expected a non-negative decimal such as "99.9"' })
  .describe('decimal string, e.g. "99.9"');

const Window = parsedBy(
  parseWindow,
  "expected a half-open window such as [2014-11-10T00:00Z,2014-11-14T00:00Z)",
).describe("half-open window [start,end)");

const Currency = z.string().regex(CURRENCY_PATTERN, "expected an ISO 4217 code such as EUR");
const Minor = z.number().int("must be an integer in minor units").min(0).max(Number.MAX_SAFE_INTEGER);
export const AmountSchema = z
  .union([Minor, z.record(Currency, Minor)], {
    error: "expected an integer in minor units, or a map of currency to integer such as {EUR: 500}",
  })
  .describe("minor units in the customer's currency, or one amount per currency: {EUR: 500, GBP: 450}");
export type Amount = z.infer<typeof AmountSchema>;

const OneOrMany = z
  .union([z.string(), z.array(z.string()).min(1)])
  .transform((v) => (Array.isArray(v) ? v : [v]));

export const ConditionSchema = z
  .strictObject({
    overlap_gt: Duration.optional(),
    overlap_gte: Duration.optional(),
    overlap_lt: Duration.optional(),
    overlap_lte: Duration.optional(),
    downtime_gte: Duration.optional(),
    downtime_lt: Duration.optional(),
    plan: OneOrMany.optional(),
    region: OneOrMany.optional(),
    kind: OneOrMany.optional(),
  })
  .describe("all given conditions must hold");
export type Condition = z.infer<typeof ConditionSchema>;

const PerDay = z.strictObject({
  grace: z
    .strictObject({
      working_days: z.number().int().min(0).optional(),
      days: z.number().int().min(0).optional(),
    })
    .refine((g) => (g.working_days === undefined) !== (g.days === undefined), {
      message: "give either working_days or days",
    })
    .optional(),
  day_counting: z.enum(["partial_day_counts", "whole_days_only"]).default("partial_day_counts"),
  rate_table: z
    .array(z.strictObject({ from: z.iso.date("expected a date such as 2024-04-01"), amount: AmountSchema }))
    .min(1)
    // Each day takes the last rate from on or before it: written in date order, read as written.
    .refine((rates) => rates.every((r, i) => i === 0 || rates[i - 1]!.from < r.from), {
      message: "list the rates by their from date, oldest first, each date once",
    })
    .optional(),
  amount: AmountSchema.optional(),
});

const DurationTier = z.strictObject({
  gte: Duration.optional(),
  lt: Duration.optional(),
  amount: AmountSchema.optional(),
  pct_of_monthly_fee: Decimal.optional(),
});

const UptimeTier = z.strictObject({ gte: Decimal.optional(), lt: Decimal.optional(), pct: Decimal });

const UnitCredit = z.strictObject({
  unit: z.string().regex(/^[a-z][a-z0-9_]*$/, "a lower-case unit name such as minutes"),
  amount: z.number().int().positive(),
  scope: z.string().optional().describe("home_city (the customer's home region), or a fixed region"),
  valid_for: Duration.optional(),
  visible_within: Duration.optional(),
});
const MoneyCredit = z.strictObject({ amount: AmountSchema, valid_for: Duration.optional() });

const ACTION_KEYS = [
  "refund",
  "credit",
  "fixed",
  "percent_of_monthly_fee",
  "per_day",
  "tiers_by_duration",
  "tiers_by_monthly_uptime",
] as const;

export const ActionSchema = z
  .strictObject({
    refund: z
      .union(
        [
          z.enum(["session_charge", "prorata_overlap", "duplicates"]),
          z
            .strictObject({
              percent: Decimal.refine((d) => compare(parseDecimal(d), fraction(100)) <= 0, {
                message: "a refund is at most 100 percent of the charge",
              }),
            })
            .describe("a percentage of the session's charge"),
        ],
        { error: 'expected session_charge, prorata_overlap, duplicates or {percent: "50"}' },
      )
      .optional(),
    reason: z.enum(["duplicate", "fraudulent", "requested_by_customer"]).optional(),
    due_within: Duration.optional(),
    credit: z
      .union([UnitCredit, MoneyCredit], {
        // Which of the two was meant shows by `unit`: say what is wrong with that one.
        error: (issue) => {
          const input = issue.input;
          const meant = input && typeof input === "object" && "unit" in input ? 0 : 1;
          const first = (issue as { errors?: { path: PropertyKey[]; message: string }[][] }).errors?.[
            meant
          ]?.[0];
          const shape =
            meant === 0 ? "{unit, amount, scope?, valid_for?, visible_within?}" : "{amount, valid_for?}";
          return first
            ? `${first.path.length ? `${first.path.join(".")}: ` : ""}${first.message} (a credit is ${shape})`
            : `expected ${shape}`;
        },
      })
      .optional(),
    fixed: AmountSchema.optional().describe("a fixed money credit"),
    percent_of_monthly_fee: Decimal.optional(),
    per_day: PerDay.optional(),
    tiers_by_duration: z.array(DurationTier).min(1).optional(),
    tiers_by_monthly_uptime: z.array(UptimeTier).min(1).optional(),
  })
  .superRefine((a, ctx) => {
    const present = ACTION_KEYS.filter((k) => a[k] !== undefined);
    if (present.length !== 1) {
      ctx.addIssue({
        code: "custom",
        message: `give exactly one of ${ACTION_KEYS.join(", ")}${present.length ? ` (found ${present.join(", ")})` : ""}`,
      });
    }
    if ((a.reason || a.due_within) && a.refund === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["reason"],
        message: "reason and due_within apply to refunds only",
      });
    }
    if (a.per_day && !a.per_day.rate_table && a.per_day.amount === undefined) {
      ctx.addIssue({ code: "custom", path: ["per_day"], message: "give rate_table or amount" });
    }
    a.tiers_by_duration?.forEach((t, i) => {
      if ((t.amount === undefined) === (t.pct_of_monthly_fee === undefined)) {
        ctx.addIssue({
          code: "custom",
          path: ["tiers_by_duration", i],
          message: "give amount or pct_of_monthly_fee",
        });
      }
    });
  });
export type Action = z.infer<typeof ActionSchema>;

export const RuleSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_.-]+$/, "letters, digits, '_', '.' or '-'"),
  when: ConditionSchema.optional(),
  per: z
    .enum(["session", "customer"])
    .optional()
    .describe("default: session for refunds, customer otherwise"),
  max_per_customer: z.number().int().positive().optional(),
  action: ActionSchema,
});
export type Rule = z.infer<typeof RuleSchema>;

const CapAmount = z
  .strictObject({ amount: AmountSchema.optional(), pct_of_monthly_fee: Decimal.optional() })
  .refine((c) => (c.amount === undefined) !== (c.pct_of_monthly_fee === undefined), {
    message: "give amount or pct_of_monthly_fee",
  });
export const CapSchema = z
  .strictObject({ per_customer: CapAmount.optional(), per_customer_per_month: CapAmount.optional() })
  .describe("caps the money a customer gets");
export type Cap = z.infer<typeof CapSchema>;

const Combine = z.enum(["first_match", "sum", "max"]);

export const GroupSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_.-]+$/),
  when: ConditionSchema.optional(),
  combine: Combine.default("first_match"),
  cap: CapSchema.optional(),
  rules: z.array(RuleSchema).min(1),
});
export type Group = z.infer<typeof GroupSchema>;

const KEY_FIELDS = ["customer_id", "usage_ref", "amount", "currency"] as const;
export const BillingFaultSchema = z.strictObject({
  kind: z.literal("duplicate_charge"),
  window: Window,
  strong_key: z.array(z.enum(KEY_FIELDS)).min(1).default(["customer_id", "usage_ref", "amount", "currency"]),
  statuses: z.array(z.string()).min(1).default(["succeeded"]),
  weak_key: z
    .strictObject({
      fields: z.array(z.enum(KEY_FIELDS)).min(1),
      within: Duration,
      action: z.literal("review").default("review"),
    })
    .optional(),
});
export type BillingFault = z.infer<typeof BillingFaultSchema>;

export const MatchSchema = z.strictObject({
  incident: z.string().optional().describe("the incident this policy was written for"),
  window: Window.optional().describe("overrides the incident's [started_at, resolved_at)"),
  components: z.array(z.string()).min(1).optional().describe("component ids; each includes its subtree"),
  regions: z.array(z.string()).min(1).optional().describe('"*" for all'),
  session_kinds: z.array(z.string()).min(1).optional(),
  plans: z.array(z.string()).min(1).optional(),
  min_overlap: Duration.optional(),
  billing_fault: BillingFaultSchema.optional(),
});
export type Match = z.infer<typeof MatchSchema>;

export const PolicySchema = z
  .strictObject({
    policy: z.string().min(1).max(100).describe("the policy's name"),
    description: z.string().optional(),
    rounding: z.enum(["half_up", "half_even"]).default("half_up"),
    currency: Currency.optional().describe("currency of bare amounts; the customer's when absent"),
    time_zone: z.string().refine(isKnownTimeZone, "unknown IANA time zone").default("UTC"),
    holidays: z
      .string()
      .refine(
        isKnownHolidayCalendar,
        "unknown holiday calendar; use a country or country-region code such as GB-EAW, IT or DE-BY",
      )
      .optional(),
    match: MatchSchema.default({}),
    downtime: z
      .enum(["overlap", "per_customer"])
      .default("overlap")
      .describe("per_customer: from the incident's start to the customer's first session after it"),
    combine: Combine.optional().describe("for top-level rules; each group has its own (default first_match)"),
    cap: CapSchema.optional().describe("with groups, applies on top of each group's own cap"),
    rules: z.array(RuleSchema).min(1).optional(),
    groups: z.array(GroupSchema).min(1).optional(),
    notify: z
      .strictObject({ template: z.string().optional(), when_nothing_due: z.boolean().default(true) })
      .default({ when_nothing_due: true }),
  })
  .superRefine((p, ctx) => {
    if ((p.rules === undefined) === (p.groups === undefined)) {
      ctx.addIssue({ code: "custom", path: ["rules"], message: "give either rules or groups" });
    }
    if (p.groups && p.combine !== undefined) {
      ctx.addIssue({ code: "custom", path: ["combine"], message: "with groups, give combine on each group" });
    }
    const seen = new Set<string>();
    const rules = p.groups
      ? p.groups.flatMap((g, gi) => g.rules.map((r, ri) => ({ r, path: ["groups", gi, "rules", ri, "id"] })))
      : (p.rules ?? []).map((r, ri) => ({ r, path: ["rules", ri, "id"] }));
    for (const { r, path } of rules) {
      if (seen.has(r.id)) ctx.addIssue({ code: "custom", path, message: `rule id "${r.id}" is used twice` });
      seen.add(r.id);
      if (r.action.refund === "duplicates" && !p.match.billing_fault) {
        ctx.addIssue({
          code: "custom",
          path: path.slice(0, -1).concat("action"),
          message: "refund: duplicates needs match.billing_fault",
        });
      }
    }
  });

export type Policy = z.infer<typeof PolicySchema>;

/** The policy's groups, with top-level rules as one implicit group. */
export function policyGroups(p: Policy): Group[] {
  return p.groups ?? [{ id: "rules", combine: p.combine ?? "first_match", cap: p.cap, rules: p.rules ?? [] }];
}

/** JSON Schema (draft 2020-12) of the policy language, for editors' autocompletion. */
export function policyJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(PolicySchema, { io: "input", unrepresentable: "any" }),
    $id: "https://amends.dev/schemas/policy.json",
    title: "Amends compensation policy",
  };
}
