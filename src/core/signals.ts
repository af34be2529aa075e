/**
 * Usage signals as pure decisions: whether what customers did in the last minutes (rentals
 * ended, end-rental attempts that failed, charging sessions started) is far from what the same
 * minutes of the week looked like in past weeks. No I/O: the caller counts, this decides.
 *
 * Expected: for each of the past weeks with data, the count in the same window of the week,
 * scaled by how the week's volume has grown since (the 7 days before now against the 7 days
 * before that window); the median of those. A public holiday or an outage in one past week is
 * outvoted by the others, and growth does not read as a spike.
 *
 * Confidence: how unlikely the observed count is under a Poisson model of independent customers:
 * for a drop, P(X ≤ observed) if the rate were still dropTo of the expected one; for a spike,
 * P(X ≥ observed) at the expected rate.
 * A spike is counted in distinct customers as well as events, so one customer retrying a broken
 * car does not read as an outage; for failures, in customers still stuck, so that an unlucky
 * attempt fixed by the next one does not either.
 */

export const SIGNAL_EVENTS = ["session_started", "session_ended", "session_failed"] as const;
export type SignalEvent = (typeof SIGNAL_EVENTS)[number];

export const WEEK_MS = 7 * 86_400_000;

/** A customer whose attempt failed is stuck once this long has passed with no rental ended since. */
export const STUCK_MINUTES = 2;

export interface SignalSpec {
  event: SignalEvent;
  /** drop: fewer than expected (rentals stop ending); spike: more (end-rental failures) */
  direction: "drop" | "spike";
  windowMinutes: number;
  /** drop: fires when the rate is surely below this share of the expected one (0.5: halved) */
  dropTo: number;
  /** spike: at least this many distinct customers… */
  minCustomers: number;
  /** …and this many events in the window */
  minEvents: number;
  /** how sure the verdict must be (0.9999) */
  confidence: number;
  /** past weeks looked at (the median of those with data) */
  weeks: number;
}

export const DEFAULT_SIGNAL: Omit<SignalSpec, "event" | "direction"> = {
  windowMinutes: 15,
  dropTo: 0.5,
  minCustomers: 2,
  minEvents: 3,
  confidence: 0.9999,
  weeks: 4,
};

/**
 * A count in one window: events, and the distinct customers behind them; for failed attempts,
 * the customers stuck at the window's end (a failure at least STUCK_MINUTES old, no session
 * ended since).
 */
export interface Count {
  events: number;
  customers: number;
}

export interface SignalInput {
  /** the window being judged */
  now: Count;
  /** events in the 7 days before the window */
  level: number;
  /** per past week (1, 2, …): the same window then, and the 7 days before it */
  past: { window: Count; level: number }[];
}

export interface SignalVerdict {
  /** learning (drops only): fewer than two past weeks with data, nothing is judged */
  verdict: "ok" | "failing" | "learning";
  observed: number;
  expected: number;
  /** 1 − the probability of seeing this if all were well */
  confidence: number;
}

/** ln(k!) by summing logs: exact enough for the counts of a few minutes. */
function logFactorial(k: number): number {
  let s = 0;
  for (let i = 2; i <= k; i++) s += Math.log(i);
  return s;
}

const poissonPmf = (k: number, lambda: number) =>
  lambda === 0 ? (k === 0 ? 1 : 0) : Math.exp(k * Math.log(lambda) - lambda - logFactorial(k));

/** P(X ≤ k) for X ~ Poisson(λ). */
export function poissonCdf(k: number, lambda: number): number {
  let sum = 0;
  for (let i = 0; i <= k; i++) sum += poissonPmf(i, lambda);
  return Math.min(1, sum);
}

/** P(X ≥ k) for X ~ Poisson(λ). */
export const poissonSf = (k: number, lambda: number) =>
  k <= 0 ? 1 : Math.max(0, 1 - poissonCdf(k - 1, lambda));

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The count the window should hold, from the past weeks, growth allowed for; null while learning. */
export function expectedCount(input: SignalInput, pick: (c: Count) => number): number | null {
  const usable = input.past.filter((p) => p.level > 0);
  if (usable.length < 2) return null;
  return median(usable.map((p) => (pick(p.window) * input.level) / p.level));
}

export function judgeSignal(spec: SignalSpec, input: SignalInput): SignalVerdict {
  if (spec.direction === "drop") {
    // What normal is must be learned first: a drop needs two past weeks with data.
    const expectedEvents = expectedCount(input, (c) => c.events);
    if (expectedEvents === null)
      return { verdict: "learning", observed: input.now.events, expected: 0, confidence: 0 };
    // Sure that the rate fell below dropTo of normal, not merely that it is below normal: the
    // past weeks vary more than a Poisson count does, and a quiet half hour is no outage.
    const observed = input.now.events;
    const confidence = 1 - poissonCdf(observed, spec.dropTo * expectedEvents);
    const failing = confidence >= spec.confidence;
    return { verdict: failing ? "failing" : "ok", observed, expected: expectedEvents, confidence };
  }
  // A spike of what is rare (failures): the past weeks' same window is often empty, so the rate
  // is never taken below the week's average for a window this long. Without history, failures
  // of several customers at once are news already: the floor and minCustomers decide.
  const windowShare = (spec.windowMinutes * 60_000) / WEEK_MS;
  const customers = input.now.customers;
  const expectedCustomers = Math.max(
    expectedCount(input, (c) => c.customers) ?? 0,
    input.level * windowShare,
    1e-3,
  );
  const confidence = 1 - poissonSf(customers, expectedCustomers);
  const failing =
    customers >= spec.minCustomers && input.now.events >= spec.minEvents && confidence >= spec.confidence;
  return {
    verdict: failing ? "failing" : "ok",
    observed: customers,
    expected: expectedCustomers,
    confidence,
  };
}

/** The windows a check at `at` counts: now, then the same window 1…weeks weeks before, each with its level. */
export function signalWindows(at: number, spec: Pick<SignalSpec, "windowMinutes" | "weeks">) {
  const end = Math.floor(at / 60_000) * 60_000;
  const start = end - spec.windowMinutes * 60_000;
  const at0 = { start, end, levelStart: start - WEEK_MS };
  return {
    now: at0,
    past: Array.from({ length: spec.weeks }, (_, i) => {
      const shift = (i + 1) * WEEK_MS;
      return { start: start - shift, end: end - shift, levelStart: start - shift - WEEK_MS };
    }),
  };
}

/** "expected 41, observed 3 in 10 min (99.99 % sure)", for the team. */
export function explainSignal(spec: SignalSpec, v: SignalVerdict): string {
  const what = spec.direction === "drop" ? "events" : "customers";
  const sure = `${Math.min(99.9999, Math.floor(v.confidence * 1e6) / 1e4)} %`;
  if (v.verdict === "learning") return "learning: fewer than two past weeks of data";
  return `${spec.event} ${what} in ${spec.windowMinutes} min: observed ${v.observed}, expected ${
    Math.round(v.expected * 10) / 10
  } (${spec.direction}, ${sure} sure)`;
}
