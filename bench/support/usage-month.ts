/**
 * Generated usage for the demo fleet (its six cities and weights): rentals started and ended,
 * with each city's day in local time (nights quiet, two peaks), weekdays busier than weekends,
 * a public holiday per country, 2 % growth a week, rare end-rental failures that a retry fixes,
 * and once a week one customer whose car will not end for ten minutes. Outages can be injected:
 * while one lasts, ending a rental fails in the cities named, and stuck customers retry every few
 * minutes until it works again.
 *
 * Deterministic for a seed. Events as the ingest endpoint takes them (`POST /api/v1/usage-events`).
 */
import { DEMO_CITIES } from "../../src/demo/generate.ts";
import { prng } from "../../src/lib/prng.ts";

export interface UsageEvent {
  id: string;
  type: "session_started" | "session_ended" | "session_failed";
  at: string;
  customerId: string;
  sessionId: string;
  componentId: string;
  region: string;
}

export interface Outage {
  regions: string[];
  start: number;
  end: number;
}

const ZONES: Record<string, string> = {
  milan: "Europe/Rome",
  rome: "Europe/Rome",
  berlin: "Europe/Berlin",
  hamburg: "Europe/Berlin",
  toronto: "America/Toronto",
  denver: "America/Denver",
};
/** Public holidays in the generated span, by city (the country's, local dates). */
const HOLIDAYS: Record<string, string[]> = {
  milan: ["2026-11-01", "2026-12-08"],
  rome: ["2026-11-01", "2026-12-08"],
  berlin: ["2026-10-03"],
  hamburg: ["2026-10-03", "2026-10-31"],
  toronto: ["2026-10-12"],
  denver: ["2026-11-26"],
};
/** Share of a day's rentals by local hour: quiet nights, a morning and an evening peak. */
const HOURLY = [
  0.4, 0.25, 0.15, 0.1, 0.1, 0.2, 0.6, 1.4, 1.9, 1.5, 1.1, 1.1, 1.3, 1.2, 1.1, 1.2, 1.5, 1.9, 2.0, 1.7, 1.3,
  1.0, 0.8, 0.6,
];
const HOURLY_SUM = HOURLY.reduce((a, b) => a + b, 0);

function localParts(at: number, zone: string) {
  const f = new Intl.DateTimeFormat("en-CA", {
    timeZone: zone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    weekday: "short",
    hourCycle: "h23",
  });
  const parts = Object.fromEntries(f.formatToParts(new Date(at)).map((p) => [p.type, p.value]));
  return {
    date: `${parts.year}-${parts.month}-${parts.day}`,
    hour: Number(parts.hour),
    weekday: parts.weekday!,
  };
}

export interface MonthOptions {
  seed: number;
  /** first instant generated (history starts here) */
  from: number;
  to: number;
  /** rentals a day in the whole fleet at the start */
  rentalsPerDay: number;
  outages?: Outage[];
}

/** Every event in [from, to), sorted by time. */
export function generateUsage(o: MonthOptions): UsageEvent[] {
  const events: UsageEvent[] = [];
  const totalWeight = DEMO_CITIES.reduce((n, c) => n + c.weight, 0);
  let seq = 0;
  const customersPerCity = 2_000 / DEMO_CITIES.length;
  const failing = (region: string, at: number) =>
    (o.outages ?? []).some((x) => x.regions.includes(region) && at >= x.start && at < x.end);
  for (const [c, city] of DEMO_CITIES.entries()) {
    // Each city and what stuck customers do draw from their own streams: an outage in one city
    // changes nothing before it, nor anywhere else.
    const random = prng(o.seed * 101 + c);
    const retry = prng(o.seed * 103 + c);
    const zone = ZONES[city.region]!;
    const perDay = (o.rentalsPerDay * city.weight) / totalWeight;
    const push = (type: UsageEvent["type"], at: number, customerId: string, sessionId: string) =>
      events.push({
        id: `ev-${city.region}-${++seq}`,
        type,
        at: new Date(at).toISOString(),
        customerId,
        sessionId,
        componentId: type === "session_started" ? `start-rental-${city.region}` : `end-rental-${city.region}`,
        region: city.region,
      });
    let brokenCarDue = o.from + 2 * 86_400_000 + random() * 5 * 86_400_000;
    // Hour by hour, a Poisson number of rentals spread over the hour.
    for (let hourStart = o.from; hourStart < o.to; hourStart += 3_600_000) {
      const local = localParts(hourStart, zone);
      const weeks = (hourStart - o.from) / (7 * 86_400_000);
      const growth = 1.02 ** weeks;
      const weekend = local.weekday === "Sat" || local.weekday === "Sun" ? 0.8 : 1;
      const holiday = HOLIDAYS[city.region]!.includes(local.date) ? 0.55 : 1;
      const lambda = ((perDay * HOURLY[local.hour]!) / HOURLY_SUM) * weekend * holiday * growth;
      const n = poisson(lambda, random);
      for (let i = 0; i < n; i++) {
        const start = hourStart + Math.floor(random() * 3_600_000);
        const customerId = `cus-${city.region}-${Math.floor(random() * customersPerCity)}`;
        const sessionId = `rnt-${city.region}-${seq + 1}`;
        push("session_started", start, customerId, sessionId);
        let end = start + (8 + Math.floor(-Math.log(1 - random()) * 30)) * 60_000;
        // A broken car, once a week somewhere: one customer fails for ten minutes, then it works.
        if (end >= brokenCarDue) {
          brokenCarDue = end + (6 + random() * 2) * 86_400_000 * (DEMO_CITIES.length / 2);
          for (let k = 0; k < 5; k++) push("session_failed", end + k * 2 * 60_000, customerId, sessionId);
          end += 10 * 60_000 + 30_000;
        }
        // Stuck while the outage lasts: a retry every 2–6 minutes, then every 20–40 once resigned.
        let tries = 0;
        while (failing(city.region, end) && end < o.to) {
          push("session_failed", end, customerId, sessionId);
          tries++;
          end += (tries < 6 ? 2 + retry() * 4 : 20 + retry() * 20) * 60_000;
        }
        // Now and then an attempt fails for no lasting reason; the next one works.
        if (random() < 0.003) {
          push("session_failed", end, customerId, sessionId);
          end += (1 + random() * 2) * 60_000;
        }
        if (end < o.to) push("session_ended", end, customerId, sessionId);
      }
    }
  }
  return events.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
}

function poisson(lambda: number, random: () => number): number {
  // Knuth's method: λ per hour per city is small (under 30).
  const limit = Math.exp(-lambda);
  let k = 0;
  let p = random();
  while (p > limit) {
    k++;
    p *= random();
  }
  return k;
}
