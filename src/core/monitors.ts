/**
 * Monitors as pure decisions: when a run of check results counts as a confirmed failure,
 * how locations vote, when a recovery is believed (after a quiet period, longer while the
 * monitor flaps), how raw results roll up per hour and day, and when each check is due so
 * that thousands of monitors spread over their intervals instead of firing together.
 */

export const MONITOR_KINDS = ["http", "tcp", "dns", "tls", "ping", "heartbeat", "signal"] as const;
export type MonitorKind = (typeof MONITOR_KINDS)[number];
export const ON_FAILURE = ["open_incident", "alert_team", "status_only"] as const;
export type OnFailure = (typeof ON_FAILURE)[number];
export type MonitorState = "up" | "down" | "pending" | "paused";

/** Down after N consecutive failures, or after M failures among the last K checks. */
export type ConfirmRule = { consecutive: number } | { of: { m: number; k: number } };

/** How many of a location's latest results the rule looks at. */
export const ruleWindow = (rule: ConfirmRule): number =>
  "consecutive" in rule ? rule.consecutive : rule.of.k;

export type Verdict = "down" | "up" | "unknown";

/**
 * One location's verdict from its results, oldest first: `down` when the rule is met,
 * `up` when the latest check passed and the rule is not met, `unknown` while failures are
 * not yet confirmed (a single blip changes nothing).
 */
export function locationVerdict(history: readonly boolean[], rule: ConfirmRule): Verdict {
  if (history.length === 0) return "unknown";
  const recent = history.slice(-ruleWindow(rule));
  const failures = recent.filter((ok) => !ok).length;
  const met =
    "consecutive" in rule
      ? recent.length >= rule.consecutive && failures === recent.length
      : failures >= rule.of.m;
  if (met) return "down";
  return history[history.length - 1] ? "up" : "unknown";
}

/**
 * The monitor's verdict from its locations' verdicts: down when at least `minLocations` agree
 * (or every location that reported, when fewer have reported), so a second location vetoes a
 * failure seen from one place only.
 */
export function combineVerdicts(verdicts: readonly Verdict[], minLocations: number): Verdict {
  const downs = verdicts.filter((v) => v === "down").length;
  const undecided = verdicts.filter((v) => v === "unknown").length;
  const required = Math.max(1, Math.min(minLocations, verdicts.length));
  if (downs >= required) return "down";
  // Locations still failing without confirmation may yet make the quorum: wait for them.
  if (downs + undecided >= required || undecided === verdicts.length) return "unknown";
  return "up";
}

export interface DampingOptions {
  /** a recovery must hold this long before it is believed */
  recoveryQuietMs: number;
  /** flips counted over this window… */
  flapWindowMs: number;
  /** …at least this many make the monitor flapping: no recovery is believed until fewer remain */
  flapThreshold: number;
}

export const DEFAULT_DAMPING: DampingOptions = {
  recoveryQuietMs: 60_000,
  flapWindowMs: 30 * 60_000,
  flapThreshold: 4,
};

export interface MonitorCondition {
  state: MonitorState;
  /** when a down monitor started passing again; null otherwise */
  recoveringSince: number | null;
  /** epoch ms of recent flips: confirmed failures, and recoveries begun or broken off */
  transitions: number[];
}

export interface Step {
  next: MonitorCondition;
  /** what changed, for the automation: nothing, a confirmed failure, or a believed recovery */
  event: "none" | "down" | "recovered";
}

export const isFlapping = (transitions: readonly number[], now: number, o: DampingOptions) =>
  transitions.filter((t) => t > now - o.flapWindowMs).length >= o.flapThreshold;

/** Applies a verdict to a monitor's condition at `now`. */
export function step(
  prev: MonitorCondition,
  verdict: Verdict,
  now: number,
  o: DampingOptions = DEFAULT_DAMPING,
): Step {
  const transitions = prev.transitions.filter((t) => t > now - o.flapWindowMs);
  const same = (): Step => ({ next: { ...prev, transitions }, event: "none" });
  if (prev.state === "paused" || verdict === "unknown") return same();
  if (verdict === "down") {
    // A recovery that did not hold is a flip too: held down, a flapping monitor keeps counting.
    if (prev.state === "down")
      return {
        next: {
          state: "down",
          recoveringSince: null,
          transitions: prev.recoveringSince === null ? transitions : [...transitions, now],
        },
        event: "none",
      };
    return {
      next: { state: "down", recoveringSince: null, transitions: [...transitions, now] },
      event: "down",
    };
  }
  // verdict up
  if (prev.state === "pending" || prev.state === "up")
    return { next: { state: "up", recoveringSince: null, transitions }, event: "none" };
  // The start of a recovery is the flip; believing it later is not another.
  const flips = prev.recoveringSince === null ? [...transitions, now] : transitions;
  const since = prev.recoveringSince ?? now;
  const quiet = isFlapping(flips, now, o) ? Math.max(o.flapWindowMs, o.recoveryQuietMs) : o.recoveryQuietMs;
  if (now - since >= quiet)
    return { next: { state: "up", recoveringSince: null, transitions: flips }, event: "recovered" };
  return { next: { state: "down", recoveringSince: since, transitions: flips }, event: "none" };
}

// ---- Scheduling ------------------------------------------------------------------------------

/** FNV-1a: a stable, well-spread hash of a monitor's id. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Where within its interval a monitor runs: fixed per monitor (and location), so monitors
 * spread evenly over the interval and every process agrees on the slots.
 */
export const phaseMs = (key: string, intervalMs: number) => hash32(key) % intervalMs;

/** The interval slot an instant falls in; the check of slot n is due at n·interval + phase. */
export const slotAt = (now: number, phase: number, intervalMs: number) =>
  Math.floor((now - phase) / intervalMs);
export const dueAt = (slot: number, phase: number, intervalMs: number) => slot * intervalMs + phase;

/** The first due time strictly after `after`. */
export const nextDue = (after: number, phase: number, intervalMs: number) =>
  dueAt(slotAt(after, phase, intervalMs) + 1, phase, intervalMs);

/**
 * A small random delay, at most 2% of the interval and never more than 500 ms, so that checks
 * sharing a phase (or processes sharing a clock tick) do not hit a target in the same millisecond.
 */
export const jitterMs = (random01: number, intervalMs: number) =>
  Math.floor(random01 * Math.min(intervalMs * 0.02, 500));

/** The p-th percentile (0–100) by nearest rank; undefined for no values. */
export function percentile(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1];
}

// ---- Rollups ---------------------------------------------------------------------------------

export interface RawResult {
  at: number;
  ok: boolean;
  latencyMs: number | null;
}

export interface Rollup {
  /** start of the bucket, epoch ms (UTC hours and days) */
  at: number;
  checks: number;
  failures: number;
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
}

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** Buckets raw results per hour or day, [start, start + size). */
export function rollUp(results: readonly RawResult[], bucketMs: number): Rollup[] {
  const buckets = new Map<number, RawResult[]>();
  for (const r of results) {
    const at = Math.floor(r.at / bucketMs) * bucketMs;
    const list = buckets.get(at);
    if (list) list.push(r);
    else buckets.set(at, [r]);
  }
  return [...buckets.entries()]
    .sort(([a], [b]) => a - b)
    .map(([at, list]) => {
      const latencies = list
        .map((r) => r.latencyMs)
        .filter((l): l is number => l !== null)
        .sort((a, b) => a - b);
      return {
        at,
        checks: list.length,
        failures: list.filter((r) => !r.ok).length,
        latencyP50Ms: percentile(latencies, 50) ?? null,
        latencyP95Ms: percentile(latencies, 95) ?? null,
      };
    });
}

/** Uptime in a set of rollups, as a fraction of checks that passed (1 when nothing was checked). */
export const uptimeOf = (rollups: readonly Pick<Rollup, "checks" | "failures">[]) => {
  const checks = rollups.reduce((n, r) => n + r.checks, 0);
  return checks === 0 ? 1 : 1 - rollups.reduce((n, r) => n + r.failures, 0) / checks;
};

// ---- Assertions ------------------------------------------------------------------------------

export interface HttpAssertions {
  /** accepted status codes; 200–399 when absent */
  status?: number[];
  /** text the body must contain */
  keyword?: string;
  /** text the body must not contain */
  absentKeyword?: string;
  /** JSON path such as `$.status` or `$.checks[0].ok` and the value it must equal */
  jsonPath?: { path: string; equals: unknown };
  /** slower than this counts as a failure */
  maxLatencyMs?: number;
}

/** Reads a simple JSON path (`$.a.b[0].c`); undefined when any step is missing. */
export function readJsonPath(value: unknown, path: string): unknown {
  const steps = path
    .replace(/^\$\.?/, "")
    .split(/\.|\[(\d+)\]/)
    .filter((s) => s !== undefined && s !== "");
  let at: unknown = value;
  for (const s of steps) {
    if (at === null || typeof at !== "object") return undefined;
    at = (at as Record<string, unknown>)[s];
  }
  return at;
}

/** Why an HTTP response fails the monitor's assertions, or undefined when it passes. */
export function httpFailure(
  response: { status: number; body: string; latencyMs: number },
  a: HttpAssertions,
): string | undefined {
  const okStatus = a.status?.length
    ? a.status.includes(response.status)
    : response.status >= 200 && response.status < 400;
  if (!okStatus) return `status ${response.status}`;
  if (a.keyword !== undefined && !response.body.includes(a.keyword)) return `keyword "${a.keyword}" missing`;
  if (a.absentKeyword !== undefined && response.body.includes(a.absentKeyword))
    return `keyword "${a.absentKeyword}" present`;
  if (a.jsonPath) {
    let json: unknown;
    try {
      json = JSON.parse(response.body);
    } catch {
      return "body is not JSON";
    }
    const got = readJsonPath(json, a.jsonPath.path);
    if (JSON.stringify(got) !== JSON.stringify(a.jsonPath.equals))
      return `${a.jsonPath.path} is ${JSON.stringify(got)}, expected ${JSON.stringify(a.jsonPath.equals)}`;
  }
  if (a.maxLatencyMs !== undefined && response.latencyMs > a.maxLatencyMs)
    return `took ${response.latencyMs} ms, over ${a.maxLatencyMs} ms`;
  return undefined;
}

/** A certificate closer to expiry than `minDays` (default 14) fails. */
export function certificateFailure(validTo: Date, now: Date, minDays = 14): string | undefined {
  const days = (validTo.getTime() - now.getTime()) / DAY_MS;
  if (days < 0) return `certificate expired on ${validTo.toISOString()}`;
  if (days < minDays) return `certificate expires in ${Math.floor(days)} days (${validTo.toISOString()})`;
  return undefined;
}

/**
 * A heartbeat is late when nothing arrived within interval + grace of the last one (or of the
 * monitor's creation, when none ever came).
 */
export function heartbeatFailure(
  last: Date | null,
  since: Date,
  now: Date,
  intervalMs: number,
  graceMs: number,
): string | undefined {
  const from = last ?? since;
  const silent = now.getTime() - from.getTime();
  if (silent <= intervalMs + graceMs) return undefined;
  return last
    ? `no heartbeat for ${Math.round(silent / 1000)} s (last at ${last.toISOString()})`
    : `no heartbeat since the monitor was created ${Math.round(silent / 1000)} s ago`;
}
