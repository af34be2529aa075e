/**
 * Recurring maintenance: an RFC 5545 RRULE expanded in the window's IANA time zone by
 * rrule-temporal (the expander node-ical already uses, on Temporal), so "every Sunday at 02:00
 * Europe/Rome" stays 02:00 local across DST; a local time that does not exist that day (the
 * spring-forward hour) moves forward, as RFC 5545 says.
 */
import { RRuleTemporal } from "rrule-temporal";
import { invalidField } from "../core/errors.ts";

const LOCAL = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/;

export interface Recurrence {
  /** local wall time of the first occurrence, e.g. 2026-03-01T02:00 */
  firstStart: string;
  timeZone: string;
  /** the RRULE value, e.g. FREQ=WEEKLY;BYDAY=SU */
  rrule: string;
}

function rule({ firstStart, timeZone, rrule }: Recurrence): RRuleTemporal {
  const m = LOCAL.exec(firstStart);
  if (!m) throw invalidField("first_start", "a local date-time without offset, e.g. 2026-03-01T02:00");
  try {
    new Intl.DateTimeFormat("en", { timeZone });
  } catch {
    throw invalidField("time_zone", "an IANA time zone such as Europe/Rome");
  }
  const value = rrule.replace(/^RRULE:/i, "").trim();
  if (!/^FREQ=/i.test(value) || /[\r\n]/.test(value))
    throw invalidField("rrule", "an RRULE value such as FREQ=WEEKLY;BYDAY=SU");
  if (/FREQ=(SECONDLY|MINUTELY|HOURLY)/i.test(value))
    throw invalidField("rrule", "maintenance repeats at most daily");
  const dtstart = `${m[1]}${m[2]}${m[3]}T${m[4]}${m[5]}${m[6] ?? "00"}`;
  try {
    return new RRuleTemporal({ rruleString: `DTSTART;TZID=${timeZone}:${dtstart}\nRRULE:${value}` });
  } catch (err) {
    throw invalidField("rrule", (err as Error).message);
  }
}

/** Checks a recurrence, naming the field at fault. */
export function validateRecurrence(r: Recurrence): void {
  const first = rule(r).all((_, i) => i < 1);
  if (first.length === 0) throw invalidField("rrule", "the rule has no occurrence");
}

export interface Occurrence {
  start: Date;
  /** local start as yyyymmddThhmm: part of the occurrence's id */
  local: string;
}

/** Occurrences starting in [from, to). */
export function occurrencesBetween(r: Recurrence, from: Date, to: Date): Occurrence[] {
  return rule(r)
    .between(from, to, true)
    .filter((z) => z.epochMilliseconds >= from.getTime() && z.epochMilliseconds < to.getTime())
    .map((z) => ({
      start: new Date(z.epochMilliseconds),
      local: z.toPlainDateTime().toString().slice(0, 16).replace(/[-:]/g, ""),
    }));
}
