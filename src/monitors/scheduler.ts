/**
 * Runs jobs on fixed interval slots: each job's slots are at n·interval + phase (phase from the
 * job's key, so thousands of jobs spread evenly over the interval), plus a little jitter. One
 * timer for all jobs over a min-heap of due times; a slot is computed from the wall clock each
 * time, never by adding intervals, so a slow tick does not accumulate drift. A job still running
 * when its next slot comes is skipped for that slot (and counted), never run twice at once.
 */
import { dueAt, jitterMs, nextDue, percentile, phaseMs, slotAt } from "../core/monitors.ts";

export interface ScheduledJob {
  key: string;
  intervalMs: number;
  /** Runs the job for one slot; `due` is when it was meant to start. */
  run(slot: number, due: number): Promise<void>;
}

interface Entry {
  job: ScheduledJob;
  phase: number;
  slot: number;
  due: number;
  running: boolean;
  /** bumped when the job is replaced or removed, so stale heap entries are ignored */
  generation: number;
}

export interface SchedulerStats {
  jobs: number;
  started: number;
  skipped: number;
  driftP50Ms: number;
  driftP99Ms: number;
  driftMaxMs: number;
}

const MAX_SLEEP_MS = 1_000;
const DRIFT_SAMPLES = 100_000;

export class Scheduler {
  private readonly entries = new Map<string, Entry>();
  private heap: [number, string, number][] = []; // [due, key, generation]
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private started = 0;
  private skipped = 0;
  private drifts: number[] = [];
  private generations = 0;

  constructor(
    private readonly clock: () => number = Date.now,
    private readonly random: () => number = Math.random,
    /** told of each slot skipped because the job's last run had not finished */
    private readonly onSkip: (key: string) => void = () => {},
  ) {}

  /** Adds or replaces a job; its next slot is the first one after now. */
  set(job: ScheduledJob): void {
    const old = this.entries.get(job.key);
    if (old && old.job.intervalMs === job.intervalMs) {
      old.job = job;
      return;
    }
    const phase = phaseMs(job.key, job.intervalMs);
    const now = this.clock();
    const slot = slotAt(now, phase, job.intervalMs) + 1;
    const entry: Entry = {
      job,
      phase,
      slot,
      due: dueAt(slot, phase, job.intervalMs) + jitterMs(this.random(), job.intervalMs),
      running: old?.running ?? false,
      generation: ++this.generations,
    };
    this.entries.set(job.key, entry);
    this.push(entry.due, job.key, entry.generation);
    this.arm();
  }

  remove(key: string): void {
    this.entries.delete(key);
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }

  stats(): SchedulerStats {
    const sorted = [...this.drifts].sort((a, b) => a - b);
    return {
      jobs: this.entries.size,
      started: this.started,
      skipped: this.skipped,
      driftP50Ms: percentile(sorted, 50) ?? 0,
      driftP99Ms: percentile(sorted, 99) ?? 0,
      driftMaxMs: sorted[sorted.length - 1] ?? 0,
    };
  }

  resetStats(): void {
    this.started = 0;
    this.skipped = 0;
    this.drifts = [];
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private arm(): void {
    if (this.stopped) return;
    const top = this.heap[0];
    clearTimeout(this.timer);
    const wait = top ? Math.max(0, Math.min(MAX_SLEEP_MS, top[0] - this.clock())) : MAX_SLEEP_MS;
    this.timer = setTimeout(() => this.fire(), wait);
    this.timer.unref?.();
  }

  private fire(): void {
    const now = this.clock();
    while (this.heap.length > 0 && this.heap[0]![0] <= now) {
      const [, key, generation] = this.pop()!;
      const entry = this.entries.get(key);
      if (!entry || entry.generation !== generation) continue;
      const { slot, due } = entry;
      if (entry.running) {
        this.skipped++;
        this.onSkip(key);
      } else {
        entry.running = true;
        this.started++;
        this.recordDrift(now - due);
        entry.job
          .run(slot, due)
          .catch(() => {})
          .finally(() => {
            entry.running = false;
          });
      }
      // The next slot after now, from the clock: late ticks are not made up, nor do they shift the phase.
      const next = nextDue(Math.max(now, due), entry.phase, entry.job.intervalMs);
      entry.slot = slotAt(next, entry.phase, entry.job.intervalMs);
      entry.due = next + jitterMs(this.random(), entry.job.intervalMs);
      this.push(entry.due, key, generation);
    }
    this.arm();
  }

  private recordDrift(ms: number): void {
    if (this.drifts.length < DRIFT_SAMPLES) this.drifts.push(ms);
    else this.drifts[Math.floor(this.random() * DRIFT_SAMPLES)] = ms; // reservoir-ish: keep a sample
  }

  private push(due: number, key: string, generation: number): void {
    const h = this.heap;
    h.push([due, key, generation]);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]![0] <= h[i]![0]) break;
      [h[parent], h[i]] = [h[i]!, h[parent]!];
      i = parent;
    }
  }

  private pop(): [number, string, number] | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && h[l]![0] < h[m]![0]) m = l;
        if (r < h.length && h[r]![0] < h[m]![0]) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
}
