/** A signal monitor's check: the usage events counted against past weeks, judged in core/signals.ts. */
import { DEFAULT_SIGNAL, explainSignal, judgeSignal, type SignalSpec } from "../core/signals.ts";
import type { CheckOutcome } from "../monitors/checks.ts";
import type { Monitor } from "../monitors/store.ts";
import type { Database } from "../storage/database.ts";
import { resolveScope, signalInput, stuckCustomers } from "./store.ts";

export const signalSpecOf = (
  m: Pick<Monitor, "assertions">,
): SignalSpec & { region?: string; source?: "events" | "sessions" } => ({
  ...DEFAULT_SIGNAL,
  ...(m.assertions.signal as Partial<SignalSpec> & Pick<SignalSpec, "event" | "direction">),
});

export async function signalOutcome(database: Database, m: Monitor, now: Date): Promise<CheckOutcome> {
  const spec = signalSpecOf(m);
  const scope = await resolveScope(database, m.workspaceId, m.componentIds, {
    region: spec.region,
    source: spec.source,
  });
  const verdict = judgeSignal(spec, await signalInput(database, m.workspaceId, spec, scope, now));
  if (verdict.verdict !== "failing") return { ok: true, latencyMs: null };
  const since = new Date(now.getTime() - spec.windowMinutes * 60_000);
  const stuck = await stuckCustomers(database, m.workspaceId, scope, since);
  // For the team only (its note, its alert): which customers, the first ten by id.
  const who = stuck.count
    ? `: ${stuck.ids.join(", ")}${stuck.count > stuck.ids.length ? ` and ${stuck.count - stuck.ids.length} more` : ""}`
    : "";
  return {
    ok: false,
    latencyMs: null,
    error: `${explainSignal(spec, verdict)}; ${stuck.count} customer${stuck.count === 1 ? "" : "s"} stuck${who}`,
  };
}

/** Observed against expected at evenly spaced instants of [from, to], judged as a check then would. */
export async function signalSeries(database: Database, m: Monitor, from: Date, to: Date, points: number) {
  const spec = signalSpecOf(m);
  const scope = await resolveScope(database, m.workspaceId, m.componentIds, {
    region: spec.region,
    source: spec.source,
  });
  const step = (to.getTime() - from.getTime()) / (points - 1);
  const items = [];
  for (let i = 0; i < points; i++) {
    const at = new Date(Math.round(from.getTime() + i * step));
    const v = judgeSignal(spec, await signalInput(database, m.workspaceId, spec, scope, at));
    items.push({
      at: at.toISOString(),
      observed: v.observed,
      expected: v.expected,
      confidence: v.confidence,
      verdict: v.verdict,
    });
  }
  return {
    windowMinutes: spec.windowMinutes,
    direction: spec.direction,
    measure: spec.direction === "drop" ? ("events" as const) : ("customers" as const),
    items,
  };
}
