/**
 * Time for compensation: ISO 8601 durations, half-open intervals `[start, end)` in epoch
 * milliseconds, and local calendars (time zone, weekends, public holidays) for per-day rules.
 */
import Holidays from "date-holidays";
import { Temporal } from "temporal-polyfill";

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** Policies name a handful of durations, read for every customer of a run: each is parsed once. */
const parsedDurations = new Map<string, number>();

/** The longest duration accepted: instants a policy adds it to stay within years 0001–9999. */
const LONGEST_DURATION = 100 * 366 * DAY;

/**
 * `PT30M`, `P7D`, `P1DT12H`, `P2W` → milliseconds, up to 100 years. Months and years are
 * refused: their length depends on where they start, and a policy must mean one thing.
 */
export function parseDuration(text: string): number {
  let ms = parsedDurations.get(text);
  if (ms === undefined) {
    ms = parseDurationText(text);
    if (parsedDurations.size < 1_000) parsedDurations.set(text, ms);
  }
  return ms;
}

/** `parseDuration` of an optional field: undefined stays undefined. */
export const dur = (text: string | undefined) => (text === undefined ? undefined : parseDuration(text));

/** Epoch milliseconds as an ISO 8601 instant, null staying null. */
export const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function parseDurationText(text: string): number {
  const refused = () =>
    new Error(
      `"${text}" is not an ISO 8601 duration in weeks, days, hours, minutes or seconds (e.g. PT30M, P7D)`,
    );
  let d: Temporal.Duration;
  try {
    d = Temporal.Duration.from(text);
  } catch {
    throw refused();
  }
  if (d.sign < 0 || d.years !== 0 || d.months !== 0) throw refused();
  // Days are 24 hours here: a policy's durations are lengths of time, not calendar steps.
  const ms = Math.round(
    d.weeks * 7 * DAY +
      d.days * DAY +
      d.hours * HOUR +
      d.minutes * MINUTE +
      d.seconds * 1000 +
      d.milliseconds +
      d.microseconds / 1e3 +
      d.nanoseconds / 1e6,
  );
  if (!(ms <= LONGEST_DURATION)) throw new Error(`"${text}" is longer than 100 years`);
  return ms;
}

export interface Interval {
  start: number;
  end: number;
}

/** Length of the overlap of two half-open intervals (0 when they only touch). */
export const overlapMs = (a: Interval, b: Interval) =>
  Math.max(0, Math.min(a.end, b.end) - Math.max(a.start, b.start));

/** The same stretches of time, sorted and merged where they overlap or touch. */
export function mergeIntervals(intervals: readonly Interval[]): Interval[] {
  const sorted = intervals.filter((i) => i.end > i.start).sort((a, b) => a.start - b.start);
  const out: Interval[] = [];
  for (const i of sorted) {
    const last = out.at(-1);
    if (last && i.start <= last.end) last.end = Math.max(last.end, i.end);
    else out.push({ ...i });
  }
  return out;
}

/** How much of `within` merged (non-overlapping) intervals cover. */
export const coveredMs = (merged: readonly Interval[], within: Interval) =>
  merged.reduce((sum, i) => sum + overlapMs(i, within), 0);

/** `[2014-11-10T00:00Z,2014-11-14T00:00Z)` → an interval; only half-open is accepted. */
export function parseWindow(text: string): Interval {
  const m = /^\[\s*([^,\s]+)\s*,\s*([^)\s]+)\s*\)$/.exec(text);
  if (!m)
    throw new Error(`"${text}" is not a half-open window such as [2014-11-10T00:00Z,2014-11-14T00:00Z)`);
  const start = Date.parse(m[1]!.replace(/T(\d\d:\d\d)Z$/, "T$1:00Z"));
  const end = Date.parse(m[2]!.replace(/T(\d\d:\d\d)Z$/, "T$1:00Z"));
  if (Number.isNaN(start) || Number.isNaN(end)) throw new Error(`"${text}" has a date that cannot be read`);
  if (end <= start) throw new Error(`"${text}" ends before it starts`);
  return { start, end };
}

/** date-holidays for `GB-EAW`, `IT`, `DE-BY`…; undefined when it knows no such place. */
function holidaySource(spec: string): Holidays | undefined {
  const [country, region] = spec.split("-");
  // England and Wales share their bank holidays; date-holidays files them under ENG.
  const state = region === "EAW" ? "ENG" : region;
  const h = new Holidays();
  if (!country || !h.getCountries()[country]) return undefined;
  if (state && !h.getStates(country)?.[state]) return undefined;
  return state ? new Holidays(country, state) : new Holidays(country);
}

export const isKnownHolidayCalendar = (spec: string) => holidaySource(spec) !== undefined;

export function isKnownTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/**
 * Local days in one time zone, with weekends (Saturday, Sunday) and the public holidays of a
 * country or region (`GB-EAW`, `IT`, `DE-BY`, via date-holidays) as non-working days.
 */
export class LocalCalendar {
  private readonly holidays: Set<string> = new Set();
  private readonly source: Holidays | undefined;
  private readonly years = new Set<number>();

  constructor(
    readonly timeZone: string,
    holidays?: string,
  ) {
    if (holidays) this.source = holidaySource(holidays);
  }

  /** The local date of an instant, e.g. "2025-03-06". */
  dateOf(ms: number): Temporal.PlainDate {
    return Temporal.Instant.fromEpochMilliseconds(ms).toZonedDateTimeISO(this.timeZone).toPlainDate();
  }

  /** The instant a local day begins. */
  startOf(date: Temporal.PlainDate): number {
    return date.toZonedDateTime({ timeZone: this.timeZone }).epochMilliseconds;
  }

  isWorkingDay(date: Temporal.PlainDate): boolean {
    if (date.dayOfWeek >= 6) return false;
    if (this.source && !this.years.has(date.year)) {
      this.years.add(date.year);
      for (const h of this.source.getHolidays(date.year)) {
        if (h.type === "public" || h.type === "bank") this.holidays.add(h.date.slice(0, 10));
      }
    }
    return !this.holidays.has(date.toString());
  }

  /** Calendar minutes in the local month of `date` (days × 1440, whatever the clocks do). */
  monthMinutes(date: Temporal.PlainDate): number {
    return date.daysInMonth * 1440;
  }
}

export { Temporal };
