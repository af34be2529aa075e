/**
 * `amends probe`: a process that runs elsewhere (another region, another network) and checks
 * the workspace's monitors from there, so a failure can be confirmed, or vetoed, from a second
 * location. It pulls its assignments and pushes results over HTTPS with its own token, and
 * needs nothing else: no database, no inbound port.
 */

import type { MonitorKind } from "../core/monitors.ts";
import { type CheckOutcome, runCheck, setSourceAddress } from "./checks.ts";
import { Scheduler } from "./scheduler.ts";

export interface ProbeOptions {
  /** the Amends server, e.g. https://status.example.com */
  url: string;
  token: string;
  /** how often assignments are pulled (ms) */
  refreshMs?: number;
  /** how often results are pushed (ms) */
  flushMs?: number;
  /** connect from this local address (several addresses on one host) */
  sourceAddress?: string;
  log?: (line: string) => void;
}

interface Assignment {
  id: string;
  kind: MonitorKind;
  target: string;
  intervalSeconds: number;
  timeoutMs: number;
  retries: number;
  assertions: Record<string, unknown>;
}

export interface RunningProbe {
  location: string;
  scheduler: Scheduler;
  stop(): Promise<void>;
}

export async function runProbe(options: ProbeOptions): Promise<RunningProbe> {
  const log = options.log ?? (() => {});
  setSourceAddress(options.sourceAddress);
  const headers = { authorization: `Bearer ${options.token}`, "content-type": "application/json" };
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(new URL(path, options.url), {
      method,
      headers,
      ...(body !== undefined && { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
    const json = (await res.json().catch(() => undefined)) as any;
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${json?.detail ?? ""}`);
    return json;
  };
  const scheduler = new Scheduler();
  const assignments = new Map<string, Assignment>();
  let pending: { monitorId: string; at: string; ok: boolean; latencyMs: number | null; error?: string }[] =
    [];
  let location = "?";

  const refresh = async () => {
    const body = (await api("GET", "/api/v1/probe/assignments")) as {
      location: string;
      monitors: Assignment[];
    };
    location = body.location;
    const ids = new Set<string>();
    for (const a of body.monitors) {
      ids.add(a.id);
      assignments.set(a.id, a);
      scheduler.set({
        key: `${location}\u0000${a.id}`,
        intervalMs: a.intervalSeconds * 1000,
        run: async () => {
          const current = assignments.get(a.id);
          if (!current) return;
          const outcome: CheckOutcome = await runCheck(current);
          pending.push({
            monitorId: a.id,
            at: new Date().toISOString(),
            ok: outcome.ok,
            latencyMs: outcome.latencyMs,
            ...(outcome.error && { error: outcome.error.slice(0, 2000) }),
          });
        },
      });
    }
    for (const key of scheduler.keys()) {
      const id = key.split("\u0000")[1]!;
      if (!ids.has(id)) {
        scheduler.remove(key);
        assignments.delete(id);
      }
    }
  };
  const flush = async () => {
    if (pending.length === 0) return;
    const batch = pending.slice(0, 5_000);
    try {
      await api("POST", "/api/v1/probe/results", { results: batch });
      pending = pending.slice(batch.length);
    } catch (err) {
      // Kept for the next push; a probe that cannot report must not lose what it saw, up to a bound.
      if (pending.length > 50_000) pending = pending.slice(-50_000);
      log(`could not push results: ${(err as Error).message}`);
    }
  };

  await refresh();
  log(`Probe at location "${location}" checking ${assignments.size} monitor(s).`);
  const refreshTimer = setInterval(
    () => void refresh().catch((err) => log(`could not pull assignments: ${err.message}`)),
    options.refreshMs ?? 15_000,
  );
  let flushing = Promise.resolve();
  const flushTimer = setInterval(() => {
    flushing = flushing.then(flush);
  }, options.flushMs ?? 1_000);
  return {
    get location() {
      return location;
    },
    scheduler,
    async stop() {
      scheduler.stop();
      clearInterval(refreshTimer);
      clearInterval(flushTimer);
      await flushing;
      await flush();
    },
  };
}
