/**
 * How customer-facing words show facts: times in the reader's zone and naming it, money as one
 * total per currency, places and components by their display names. Pure (Intl only); the
 * sentences around them live in the message catalogs.
 */
import type { Component } from "./components.ts";
import { currencyExponent } from "./money.ts";

const cached = <T>(make: (key: string) => T) => {
  const cache = new Map<string, T>();
  return (key: string) => {
    let v = cache.get(key);
    if (v === undefined) {
      v = make(key);
      cache.set(key, v);
    }
    return v;
  };
};

/** Intl's "en" is American (12-hour, month first); our English readers are mostly European. */
export const intlLocale = (locale: string) => (locale === "en" ? "en-GB" : locale);

const timeFormats = cached((key) => {
  const [locale, timeZone] = key.split("\u0000") as [string, string];
  return new Intl.DateTimeFormat(intlLocale(locale), {
    timeZone,
    day: "numeric",
    month: "short",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    timeZoneName: "short",
  });
});

/** A point in time for a reader: "4 Dec 2026, 16:00 CET" ("4 dic 2026, 16:00 CET" in Italian). */
export function formatMessageTime(at: Date | string, locale: string, timeZone: string): string {
  return timeFormats(`${locale}\u0000${timeZone}`).format(new Date(at));
}

const dayFormats = cached((key) => {
  const [locale, timeZone] = key.split("\u0000") as [string, string];
  return new Intl.DateTimeFormat(intlLocale(locale), { dateStyle: "long", timeZone });
});

/** A calendar day for a reader: "4 March 2027" ("4 marzo 2027"). */
export function formatMessageDay(at: Date | string, locale: string, timeZone: string): string {
  return dayFormats(`${locale}\u0000${timeZone}`).format(new Date(at));
}

/** Minor units to a localised amount, without floats: 1700 EUR → "17,00 €" in Italian. */
export function formatAmount(amount: number, currency: string, locale: string): string {
  const digits = currencyExponent(currency);
  const s = String(Math.abs(amount)).padStart(digits + 1, "0");
  const decimal = `${amount < 0 ? "-" : ""}${digits ? `${s.slice(0, -digits)}.${s.slice(-digits)}` : s}`;
  return new Intl.NumberFormat(intlLocale(locale), {
    style: "currency",
    currency,
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(decimal as unknown as number); // Intl takes decimal strings exactly (ES2023)
}

/** One total per currency, largest first: two refunds of 8,50 € read as "17,00 €". */
export function moneyTotals(
  lines: readonly { amount: number; currency: string }[],
  locale: string,
): string[] {
  const totals = new Map<string, number>();
  for (const l of lines) totals.set(l.currency, (totals.get(l.currency) ?? 0) + l.amount);
  return [...totals]
    .filter(([, amount]) => amount !== 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([currency, amount]) => formatAmount(amount, currency, locale));
}

/** "A, B and C" in the reader's language. */
export const listText = (items: readonly string[], locale: string) =>
  new Intl.ListFormat(intlLocale(locale), { type: "conjunction" }).format(items);

/**
 * Each region's display name: the name of the component that introduces it (the shallowest one
 * whose own region it is, e.g. "Milan" for `milan`). A region no component names reads as
 * itself, capitalised, rather than as an id.
 */
export function regionNames(components: readonly Component[]): (region: string) => string {
  const byId = new Map(components.map((c) => [c.id, c]));
  const depth = (c: Component): number => {
    let n = 0;
    for (let p = c.parentId; p && n < 100; p = byId.get(p)?.parentId ?? null) n++;
    return n;
  };
  const best = new Map<string, { depth: number; position: number; name: string }>();
  for (const c of components) {
    if (!c.region) continue;
    const parentRegion = c.parentId ? byId.get(c.parentId)?.region : null;
    if (parentRegion === c.region) continue;
    const candidate = { depth: depth(c), position: c.position, name: c.name };
    const seen = best.get(c.region);
    if (
      !seen ||
      candidate.depth < seen.depth ||
      (candidate.depth === seen.depth && candidate.position < seen.position)
    )
      best.set(c.region, candidate);
  }
  return (region) => best.get(region)?.name ?? humanize(region);
}

const humanize = (id: string) => {
  const words = id.replace(/[-_]+/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
};

/** A component as customers see it: its path of display names, "Payments › Rome". */
export function componentPath(components: readonly Component[], id: string): string {
  const byId = new Map(components.map((c) => [c.id, c]));
  const names: string[] = [];
  for (let c = byId.get(id); c && names.length < 100; c = c.parentId ? byId.get(c.parentId) : undefined)
    names.unshift(c.name);
  return names.length ? names.join(" › ") : humanize(id);
}
