/** A signal monitor's check: the usage events counted against past weeks, judged in core/signals.ts. */
import { DEFAULT_SIGNAL, explainSignal, judgeSignal, type SignalSpec } from "../core/signals.ts";
import type { CheckOutcome } from "../monitors/checks.ts";
import type { Monitor } from "../monitors/store.ts";
import type { Database } from "../storage/database.ts";
import { signalInput, stuckCustomers } from "./store.ts";

export const signalSpecOf = (
  m: Pick<Monitor, "assertions">,
): SignalSpec & { region?: string; source?: "events" | "sessions" } => ({
  ...DEFAULT_SIGNAL,
  ...(m.assertions.signal as Partial<SignalSpec> & Pick<SignalSpec, "event" | "direction">),
});

export async function signalOutcome(database: Database, m: Monitor, now: Date): Promise<CheckOutcome> {
  const spec = signalSpecOf(m);
  const scope = { componentIds: m.componentIds, region: spec.region, source: spec.source };
  const verdict = judgeSignal(spec, await signalInput(database, m.workspaceId, spec, scope, now));
  if (verdict.verdict !== "failing") return { ok: true, latencyMs: null };
  const since = new Date(now.getTime() - spec.windowMinutes * 60_000);
  const stuck = await stuckCustomers(database, m.workspaceId, scope, since);
  return {
    ok: false,
    latencyMs: null,
    error: `${explainSignal(spec, verdict)}; ${stuck} customer${stuck === 1 ? "" : "s"} stuck`,
  };
}
