/**
 * Who hears about an event, and when: scope matching on the component tree, quiet hours,
 * digests, SMS segments and the cost estimate shown before a send. Pure: no clock, no I/O.
 */
import { Temporal } from "temporal-polyfill";
import type { Component } from "./components.ts";
import { add, type Fraction, fraction, type Money, mul, parseDecimal, round } from "./money.ts";

/** What an event touches: the failed components with their ancestors and descendants, and their regions. */
export interface EventScope {
  components: Set<string>;
  regions: Set<string>;
  /**
   * False when every failed component is one only private pages show: then the public (page
   * subscribers, webhooks, the social accounts) hears nothing of it, except a subscriber who
   * chose one of `hidden`, the touched components the public may not see.
   */
  public: boolean;
  hidden: Set<string>;
}

export function eventScope(
  tree: readonly Component[],
  affected: readonly string[],
  /** what the public may see (core/components.ts publicComponentIds); all of it when absent */
  visible?: ReadonlySet<string>,
): EventScope {
  const byId = new Map(tree.map((c) => [c.id, c]));
  const related = new Set<string>();
  for (const id of affected) {
    // Ancestors: a subscriber to "End rental" hears about "End rental · Milan".
    for (let c = byId.get(id); c; c = c.parentId ? byId.get(c.parentId) : undefined) related.add(c.id);
  }
  // Descendants: a subscriber to "End rental · Milan" hears about the whole service failing.
  let grew = true;
  const down = new Set(affected);
  while (grew) {
    grew = false;
    for (const c of tree)
      if (c.parentId && down.has(c.parentId) && !down.has(c.id)) {
        down.add(c.id);
        grew = true;
      }
  }
  for (const id of down) related.add(id);
  const regions = new Set<string>();
  for (const id of related) {
    const region = byId.get(id)?.region;
    if (region) regions.add(region);
  }
  return {
    components: related,
    regions,
    public: !visible || affected.some((id) => visible.has(id)),
    hidden: new Set([...related].filter((id) => visible && !visible.has(id))),
  };
}

/** A subscriber with no components and no regions follows the whole page. */
export function subscriberMatches(
  sub: { components: readonly string[]; regions: readonly string[] },
  scope: EventScope | undefined,
): boolean {
  if (scope && !scope.public) return sub.components.some((c) => scope.hidden.has(c));
  if (sub.components.length === 0 && sub.regions.length === 0) return true;
  if (!scope) return false; // page-wide news (e.g. no components) goes to whole-page subscribers only
  return sub.components.some((c) => scope.components.has(c)) || sub.regions.some((r) => scope.regions.has(r));
}

export interface QuietHours {
  start: string;
  end: string;
  time_zone: string;
}

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;
export const isClockTime = (s: string) => HHMM.test(s);

/**
 * When a message may go out: `now`, or the end of the recipient's quiet hours when `now` falls
 * inside them. Quiet hours may wrap midnight (22:00–07:00). Critical news passes through.
 */
export function releaseAt(quiet: QuietHours | null | undefined, now: Date, critical: boolean): Date {
  if (!quiet || critical || quiet.start === quiet.end) return now;
  const local = Temporal.Instant.fromEpochMilliseconds(now.getTime()).toZonedDateTimeISO(quiet.time_zone);
  const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
  const [start, end, at] = [minutes(quiet.start), minutes(quiet.end), local.hour * 60 + local.minute];
  const wraps = start > end;
  const inside = wraps ? at >= start || at < end : at >= start && at < end;
  if (!inside) return now;
  const endTime = Temporal.PlainTime.from(quiet.end);
  let release = local.withPlainTime(endTime);
  if (wraps && at >= start) release = release.add({ days: 1 });
  return new Date(release.epochMilliseconds);
}

/**
 * A digest folds what arrives within `minutes` of the first held message into one message,
 * sent when the window closes.
 */
export const digestRelease = (firstHeldAt: Date, minutes: number) =>
  new Date(firstHeldAt.getTime() + minutes * 60_000);

// GSM 03.38 basic set plus its extension table (extension characters take two septets).
const GSM_BASIC =
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM_EXTENDED = "^{}\\[~]|€\f";

/**
 * SMS segments, as carriers bill them: one message of up to 160 GSM-7 septets or 70 UTF-16 units
 * (a text with any character outside GSM 03.38: most accents beyond Italian's, emoji); longer,
 * parts of 153 septets or 67 units (the rest is the concatenation header). An extension character
 * (€, [, …) takes two septets and a surrogate pair two units, and neither is split across parts.
 * The one counter for the estimate and the tests that read what the provider got.
 */
export function smsSegments(text: string): { encoding: "gsm7" | "ucs2"; segments: number } {
  const sizes: number[] = [];
  let gsm = true;
  for (const ch of text) {
    if (GSM_BASIC.includes(ch)) sizes.push(1);
    else if (GSM_EXTENDED.includes(ch)) sizes.push(2);
    else {
      gsm = false;
      break;
    }
  }
  const [single, part] = gsm ? [160, 153] : [70, 67];
  const units = gsm ? sizes : [...text].map((ch) => ch.length);
  const total = units.reduce((a, b) => a + b, 0);
  if (total <= single) return { encoding: gsm ? "gsm7" : "ucs2", segments: 1 };
  let [segments, used] = [1, 0];
  for (const n of units) {
    if (used + n > part) {
      segments++;
      used = 0;
    }
    used += n;
  }
  return { encoding: gsm ? "gsm7" : "ucs2", segments };
}

/** Price of one SMS segment by ISO country (and `default`), as a decimal string in major units: "0.0725". */
export type SmsPrices = Record<string, { price: string; currency: string }>;

export interface Estimate {
  recipients: Record<string, number>;
  sms: { messages: number; segments: number; cost: Money[]; unpriced: number };
  /** true when the SMS cost passes the workspace's threshold: a person must confirm */
  needsConfirmation: boolean;
}

/**
 * Recipients per channel and what the SMS part costs: segments × the country's price, summed
 * exactly and rounded once per currency (half up) to minor units.
 */
export function estimate(
  recipients: Record<string, number>,
  smsByCountry: Record<string, { messages: number; segments: number }>,
  prices: SmsPrices,
  threshold: Money | undefined,
  exponentOf: (currency: string) => number,
): Estimate {
  const totals = new Map<string, Fraction>();
  let [messages, segments, unpriced] = [0, 0, 0];
  for (const [country, n] of Object.entries(smsByCountry).sort(([a], [b]) => (a < b ? -1 : 1))) {
    messages += n.messages;
    segments += n.segments;
    const price = prices[country] ?? prices.default;
    if (!price) {
      unpriced += n.messages;
      continue;
    }
    const cost = mul(parseDecimal(price.price, `sms.prices.${country}`), fraction(n.segments));
    totals.set(price.currency, add(totals.get(price.currency) ?? fraction(0), cost));
  }
  const cost = [...totals.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([currency, f]) => ({
      currency,
      amount: round(mul(f, fraction(10n ** BigInt(exponentOf(currency)))), "half_up"),
    }));
  const over = threshold
    ? cost.some((c) => c.currency === threshold.currency && c.amount > threshold.amount) ||
      (unpriced > 0 && threshold.amount === 0)
    : false;
  return { recipients, sms: { messages, segments, cost, unpriced }, needsConfirmation: over };
}

/** A recipient's language: theirs when we ship it, else the workspace's, else English. */
export function pickLocale(wanted: string | null | undefined, shipped: readonly string[], fallback: string) {
  const base = wanted?.toLowerCase().split(/[-_]/)[0];
  if (base && shipped.includes(base)) return base;
  return shipped.includes(fallback) ? fallback : "en";
}
