/**
 * Signal monitors against a generated month of the demo fleet's usage (bench/support/usage-month.ts:
 * weekdays, nights, public holidays, growth, rare failures and a weekly broken car), replayed
 * minute by minute through the same decisions the server takes (core/signals.ts for the verdict,
 * core/monitors.ts for confirmation): four weeks of history, then 30 days judged.
 *
 *   1. the clean month: every confirmed failure is a false alarm;
 *   2. a 14-hour blackout of ending rentals in every city (car2go, 19 Dec 2017: 02:00–16:00 UTC);
 *   3. a Milan-only failure of ending rentals, three hours on a weekday morning.
 *
 * For 2 and 3: minutes from onset to the first confirmed failure of a monitor that covers the
 * failed cities (and from the first failed attempt, since no signal exists before someone tries),
 * the components named, the stuck customers counted, and any monitor of an unaffected city firing.
 * With --sql, the counts are checked against the server's own SQL over the same events ingested
 * through POST /api/v1/usage-events on PGlite. --write FILE saves the blackout scenario's events
 * (the ingest's NDJSON). --events FILE judges someone else's usage instead (four weeks learned,
 * the rest judged, a failure monitor per region seen plus the fleet's two); with
 * --outage REGIONS@START/END it reports the detection of that outage and every other alarm.
 *
 *   npx tsx bench/signals.ts [--seed 7] [--confirm 2] [--scale 1] [--sql] [--write FILE]
 *   npx tsx bench/signals.ts --events usage.ndjson [--outage milan,rome@2026-12-09T02:00:00Z/2026-12-09T16:00:00Z]
 *
 * Targets (issue 21): detection <= 10 min after onset, 0 false alarms over the clean month.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import {
  combineVerdicts,
  DEFAULT_DAMPING,
  locationVerdict,
  type MonitorCondition,
  step,
} from "../src/core/monitors.ts";
import {
  type Count,
  DEFAULT_SIGNAL,
  judgeSignal,
  type SignalInput,
  type SignalSpec,
  STUCK_MINUTES,
  signalWindows,
} from "../src/core/signals.ts";
import { DEMO_CITIES } from "../src/demo/generate.ts";
import { generateUsage, type Outage, type UsageEvent } from "./support/usage-month.ts";

const { values: args } = parseArgs({
  options: {
    seed: { type: "string", default: "7" },
    scale: { type: "string", default: "1" },
    confirm: { type: "string", default: "2" },
    sql: { type: "boolean", default: false },
    events: { type: "string" },
    write: { type: "string" },
    outage: { type: "string" },
  },
});
const seed = Number(args.seed);

const HISTORY_FROM = Date.parse("2026-10-26T00:00:00Z");
const MONTH_FROM = Date.parse("2026-11-23T00:00:00Z");
const MONTH_TO = Date.parse("2026-12-23T00:00:00Z");
/** the demo fleet's ~20,000 rentals in 30 days; --scale 5 for a fleet five times its size */
const RENTALS_PER_DAY = 667 * Number(args.scale);

/** What a company would configure: failures per city and fleet-wide, and ended rentals fleet-wide. */
interface BenchMonitor {
  name: string;
  region: string | null;
  spec: SignalSpec;
  components: string[];
}
const monitorsFor = (regions: string[]): BenchMonitor[] => [
  ...regions.map((region) => ({
    name: `end-rental failures in ${region}`,
    region,
    spec: { ...DEFAULT_SIGNAL, event: "session_failed" as const, direction: "spike" as const },
    components: [`end-rental-${region}`],
  })),
  {
    name: "end-rental failures, fleet",
    region: null,
    spec: { ...DEFAULT_SIGNAL, event: "session_failed", direction: "spike" },
    components: ["end-rental"],
  },
  {
    name: "rentals ended, fleet",
    region: null,
    spec: { ...DEFAULT_SIGNAL, event: "session_ended", direction: "drop", windowMinutes: 30 },
    components: ["end-rental"],
  },
];
let monitors = monitorsFor(DEMO_CITIES.map((c) => c.region));

/** Events of one kind (and city) as sorted times with their customers: counts by binary search. */
class Series {
  times: number[] = [];
  customers: string[] = [];
  private index(t: number) {
    let lo = 0;
    let hi = this.times.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.times[mid]! < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  events(from: number, to: number) {
    return this.index(to) - this.index(from);
  }
  /** failures: each customer's ended rentals, so that only those still stuck count */
  constructor(private ends?: Map<string, number[]>) {}
  count(from: number, to: number): Count {
    const a = this.index(from);
    const b = this.index(to);
    const customers = new Set<string>();
    for (let i = a; i < b; i++) {
      const c = this.customers[i]!;
      if (!this.ends) customers.add(c);
      // Stuck: failed at least STUCK_MS before the window's end, and no rental ended since.
      else if (this.times[i]! <= to - STUCK_MS && !endedBetween(this.ends.get(c), this.times[i]!, to))
        customers.add(c);
    }
    return { events: b - a, customers: customers.size };
  }
}

const STUCK_MS = STUCK_MINUTES * 60_000;

/** Whether a sorted list of times holds one in (after, before). */
function endedBetween(times: number[] | undefined, after: number, before: number) {
  if (!times) return false;
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (times[mid]! <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo < times.length && times[lo]! < before;
}

function seriesOf(events: UsageEvent[]) {
  const map = new Map<string, Series>();
  const ends = new Map<string, number[]>();
  for (const e of events)
    if (e.type === "session_ended") {
      const list = ends.get(e.customerId) ?? [];
      ends.set(e.customerId, list);
      list.push(Date.parse(e.at));
    }
  const add = (key: string, e: UsageEvent, t: number) => {
    const s = map.get(key) ?? new Series(e.type === "session_failed" ? ends : undefined);
    map.set(key, s);
    s.times.push(t);
    s.customers.push(e.customerId);
  };
  for (const e of events) {
    const t = Date.parse(e.at);
    add(`${e.type}:${e.region}`, e, t);
    add(`${e.type}:*`, e, t);
  }
  return (type: string, region: string | null) => map.get(`${type}:${region ?? "*"}`) ?? new Series();
}

export function inputAt(s: Series, spec: SignalSpec, at: number): SignalInput {
  const w = signalWindows(at, spec);
  return {
    now: s.count(w.now.start, w.now.end),
    level: s.events(w.now.levelStart, w.now.start),
    past: w.past.map((p) => ({ window: s.count(p.start, p.end), level: s.events(p.levelStart, p.start) })),
  };
}

interface Alarm {
  monitor: BenchMonitor;
  at: number;
  detail: string;
}

/** Replays [from, to) minute by minute; confirmation: --confirm failing checks in a row. */
function replay(events: UsageEvent[], from = MONTH_FROM, to = MONTH_TO): Alarm[] {
  const series = seriesOf(events);
  const alarms: Alarm[] = [];
  for (const m of monitors) {
    const s = series(m.spec.event, m.region);
    let condition: MonitorCondition = { state: "pending", recoveringSince: null, transitions: [] };
    const history: boolean[] = [];
    for (let at = from; at < to; at += 60_000) {
      const v = judgeSignal(m.spec, inputAt(s, m.spec, at));
      history.push(v.verdict !== "failing");
      if (history.length > 5) history.shift();
      const verdict = combineVerdicts([locationVerdict(history, { consecutive: Number(args.confirm) })], 1);
      const next = step(condition, verdict, at, DEFAULT_DAMPING);
      condition = next.next;
      if (next.event === "down")
        alarms.push({
          monitor: m,
          at,
          detail: `observed ${v.observed}, expected ${v.expected.toFixed(2)}, ${(v.confidence * 100).toFixed(4)} %`,
        });
    }
  }
  return alarms.sort((a, b) => a.at - b.at);
}

const minutes = (ms: number) => (ms / 60_000).toFixed(0);
const started = performance.now();
const results: Record<string, unknown> = {};
if (args.events) {
  // Someone else's usage (the ingest's NDJSON): four weeks learned, the rest judged.
  const events = readFileSync(args.events, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as UsageEvent)
    .sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  monitors = monitorsFor([...new Set(events.map((e) => e.region).filter(Boolean))].sort());
  const from = Math.ceil((Date.parse(events[0]!.at) + 28 * 86_400_000) / 60_000) * 60_000;
  const to = Date.parse(events.at(-1)!.at);
  console.log(
    `usage: ${events.length} events from ${args.events}; judged every minute from ${new Date(from).toISOString()} to ${new Date(to).toISOString()} by ${monitors.length} monitors`,
  );
  const alarms = replay(events, from, to);
  if (args.outage) {
    // --outage milan,rome@2026-12-09T02:00:00Z/2026-12-09T16:00:00Z
    const [regions, span] = args.outage.split("@") as [string, string];
    const [start, end] = span.split("/").map((t) => Date.parse(t)) as [number, number];
    const outage = { regions: regions.split(","), start, end };
    results.detectionMinutes = judgeOutage({ name: `outage ${args.outage}`, outage }, events, alarms);
  } else {
    console.log(`   alarms (false, if the data is clean): ${alarms.length}`);
    for (const a of alarms)
      console.log(`     ${new Date(a.at).toISOString()}  ${a.monitor.name}: ${a.detail}`);
    results.falseAlarms = alarms.length;
  }
} else {
  const clean = generateUsage({ seed, from: HISTORY_FROM, to: MONTH_TO, rentalsPerDay: RENTALS_PER_DAY });
  const counts: Record<string, number> = {};
  for (const e of clean) counts[e.type] = (counts[e.type] ?? 0) + 1;
  console.log(
    `usage: ${clean.length} events over ${((MONTH_TO - HISTORY_FROM) / 86_400_000).toFixed(0)} days (seed ${seed}): ${JSON.stringify(counts)}`,
  );
  const falseAlarms = replay(clean);
  console.log(`\n1. clean month (${monitors.length} monitors, judged every minute for 30 days)`);
  console.log(`   false alarms: ${falseAlarms.length}`);
  for (const a of falseAlarms)
    console.log(`     ${new Date(a.at).toISOString()}  ${a.monitor.name}: ${a.detail}`);

  const scenarios: { name: string; outage: Outage }[] = [
    {
      name: "2. blackout of ending rentals in every city, 14 h from 02:00 UTC",
      outage: {
        regions: DEMO_CITIES.map((c) => c.region),
        start: Date.parse("2026-12-09T02:00:00Z"),
        end: Date.parse("2026-12-09T16:00:00Z"),
      },
    },
    {
      name: "3. Milan only, 3 h from 10:00 Milan time on a Tuesday",
      outage: {
        regions: ["milan"],
        start: Date.parse("2026-12-15T09:00:00Z"),
        end: Date.parse("2026-12-15T12:00:00Z"),
      },
    },
  ];

  results.falseAlarms = falseAlarms.length;
  for (const sc of scenarios) {
    const events = generateUsage({
      seed,
      from: HISTORY_FROM,
      to: MONTH_TO,
      rentalsPerDay: RENTALS_PER_DAY,
      outages: [sc.outage],
    });
    results[sc.name] = judgeOutage(sc, events, replay(events));
    if (args.write && sc === scenarios[0])
      writeFileSync(args.write, `${events.map((e) => JSON.stringify(e)).join("\n")}\n`);
  }
  if (args.sql) results.sql = await checkSql(scenarios[0]!.outage);
}
console.log(`\n${JSON.stringify(results)}  (${((performance.now() - started) / 1000).toFixed(1)} s)`);

/**
 * The server's own path over the same events: ingested through POST /api/v1/usage-events on
 * PGlite, then each monitor's counts read by src/signals/store.ts at random minutes (half of them
 * in the outage's first four hours), which must
 * equal the counts the replay judged.
 */
async function checkSql(outage: Outage) {
  const { buildServer } = await import("../src/http/server.ts");
  const { openDatabase } = await import("../src/storage/database.ts");
  const { createWorkspace } = await import("../src/workspaces/store.ts");
  const { createToken } = await import("../src/tokens/store.ts");
  const { resolveScope, signalInput } = await import("../src/signals/store.ts");
  const database = await openDatabase({ memory: true });
  const ws = await createWorkspace(database.db, { slug: "fleet", name: "The Fleet" });
  const { secret } = await createToken(database.db, { workspaceId: ws.id, name: "bench" });
  const app = await buildServer({ database });
  const call = (url: string, payload: string, type = "application/json") =>
    app.inject({
      method: "POST",
      url,
      payload,
      headers: { authorization: `Bearer ${secret}`, "content-type": type },
    });
  await call("/api/v1/components", JSON.stringify({ id: "end-rental", name: "End rental" }));
  for (const c of DEMO_CITIES)
    await call(
      "/api/v1/components",
      JSON.stringify({ id: `end-rental-${c.region}`, name: c.name, parent_id: "end-rental" }),
    );
  const events = generateUsage({
    seed,
    from: HISTORY_FROM,
    to: MONTH_TO,
    rentalsPerDay: RENTALS_PER_DAY,
    outages: [outage],
  });
  const t0 = performance.now();
  for (let i = 0; i < events.length; i += 50_000) {
    const res = await call(
      "/api/v1/usage-events",
      events
        .slice(i, i + 50_000)
        .map((e) => JSON.stringify(e))
        .join("\n"),
      "application/x-ndjson",
    );
    if (res.statusCode !== 200) throw new Error(res.body);
  }
  const ingestS = (performance.now() - t0) / 1000;
  const series = seriesOf(events);
  const random = (await import("../src/lib/prng.ts")).prng(seed);
  let compared = 0;
  let mismatches = 0;
  const t1 = performance.now();
  // 40 random minutes of the month, and 40 in the outage's first hours, where failures are.
  for (let i = 0; i < 80; i++) {
    const m = monitors[Math.floor(random() * monitors.length)]!;
    const at =
      i < 40
        ? MONTH_FROM + Math.floor(random() * ((MONTH_TO - MONTH_FROM) / 60_000)) * 60_000
        : outage.start + Math.floor(random() * 240) * 60_000;
    const scope = await resolveScope(database, ws.id, [m.region ? `end-rental-${m.region}` : "end-rental"]);
    const fromSql = await signalInput(database, ws.id, m.spec, scope, new Date(at));
    const inMemory = inputAt(series(m.spec.event, m.region), m.spec, at);
    compared++;
    if (JSON.stringify(fromSql) !== JSON.stringify(inMemory)) {
      mismatches++;
      console.log(`   mismatch at ${new Date(at).toISOString()} ${m.name}:`, fromSql, inMemory);
    }
  }
  const perCheckMs = (performance.now() - t1) / compared;
  console.log(
    `\nSQL: ${events.length} events ingested in ${ingestS.toFixed(1)} s (${Math.round(events.length / ingestS)}/s) on PGlite; ` +
      `${compared} checks' counts compared, ${mismatches} different; ${perCheckMs.toFixed(0)} ms a check`,
  );
  await app.close();
  await database.close();
  return {
    compared,
    mismatches,
    ingestPerSecond: Math.round(events.length / ingestS),
    msPerCheck: Math.round(perCheckMs),
  };
}

/** Detection of one outage in `events`, and the alarms outside it; returns minutes from onset to detection. */
function judgeOutage(sc: { name: string; outage: Outage }, events: UsageEvent[], alarms: Alarm[]) {
  const covers = (m: BenchMonitor) => m.region === null || sc.outage.regions.includes(m.region);
  const during = alarms.filter((a) => a.at >= sc.outage.start && a.at < sc.outage.end + 3_600_000);
  const first = during.find((a) => covers(a.monitor));
  const wrong = alarms.filter((a) => !covers(a.monitor) || a.at < sc.outage.start);
  const failed = events.filter(
    (e) =>
      e.type === "session_failed" &&
      Date.parse(e.at) >= sc.outage.start &&
      sc.outage.regions.includes(e.region),
  );
  const firstAttempt = failed.length ? Date.parse(failed[0]!.at) : Number.NaN;
  // The ceiling: nothing is known before someone tries; one customer alone is a broken car.
  const seen = new Set<string>();
  const secondCustomer = failed.find((e) => seen.add(e.customerId).size === 2);
  const stuckBy = (t: number) =>
    new Set(
      failed.filter((e) => Date.parse(e.at) < t && Date.parse(e.at) < sc.outage.end).map((e) => e.customerId),
    ).size;
  console.log(`\n${sc.name}`);
  if (!first) console.log("   not detected");
  else {
    console.log(
      `   detected after ${minutes(first.at - sc.outage.start)} min from onset (${minutes(first.at - firstAttempt)} min from the first failed attempt) by "${first.monitor.name}": ${first.detail}`,
    );
    if (secondCustomer)
      console.log(
        `   ceiling: the first failed attempt came ${minutes(firstAttempt - sc.outage.start)} min after onset, a second customer's ${minutes(Date.parse(secondCustomer.at) - sc.outage.start)} min after`,
      );
    const regions = [
      ...new Set(during.filter((a) => a.at < sc.outage.end).map((a) => a.monitor.region ?? "fleet")),
    ];
    console.log(`   monitors that fired during it: ${regions.join(", ")}`);
    console.log(
      `   stuck customers: ${stuckBy(first.at)} at detection, ${stuckBy(sc.outage.end)} by the end`,
    );
  }
  console.log(`   alarms outside the failure (other cities, or before it): ${wrong.length}`);
  for (const a of wrong) console.log(`     ${new Date(a.at).toISOString()}  ${a.monitor.name}: ${a.detail}`);
  return first ? Number(minutes(first.at - sc.outage.start)) : null;
}
