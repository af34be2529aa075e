import { describe, expect, it } from "vitest";
import {
  certificateFailure,
  combineVerdicts,
  type DampingOptions,
  dueAt,
  heartbeatFailure,
  httpFailure,
  jitterMs,
  locationVerdict,
  type MonitorCondition,
  nextDue,
  phaseMs,
  readJsonPath,
  rollUp,
  slotAt,
  step,
  uptimeOf,
} from "../../src/core/monitors.ts";

const F = false;
const T = true;

describe("confirmation rule", () => {
  it("N consecutive failures: a blip changes nothing, the Nth failure in a row confirms", () => {
    const rule = { consecutive: 3 };
    expect(locationVerdict([T, T, F], rule)).toBe("unknown");
    expect(locationVerdict([T, F, F], rule)).toBe("unknown");
    expect(locationVerdict([T, F, F, F], rule)).toBe("down");
    expect(locationVerdict([F, F, T], rule)).toBe("up");
    expect(locationVerdict([F, T, F, F], rule)).toBe("unknown");
    expect(locationVerdict([], rule)).toBe("unknown");
  });
  it("M of K: scattered failures confirm once M of the last K failed", () => {
    const rule = { of: { m: 3, k: 5 } };
    expect(locationVerdict([F, T, F, T, T], rule)).toBe("up");
    expect(locationVerdict([F, T, F, T, F], rule)).toBe("down");
    // a success does not clear it while 3 of the last 5 still failed
    expect(locationVerdict([F, T, F, F, T], rule)).toBe("down");
    expect(locationVerdict([F, T, F, F, T, T, T], rule)).toBe("up");
  });
  it("locations: a quorum confirms, a healthy second location vetoes, an undecided one is waited for", () => {
    expect(combineVerdicts(["down"], 2)).toBe("down"); // only one location reports: it decides
    expect(combineVerdicts(["down", "up"], 2)).toBe("up");
    expect(combineVerdicts(["down", "down"], 2)).toBe("down");
    expect(combineVerdicts(["down", "unknown"], 2)).toBe("unknown");
    expect(combineVerdicts(["down", "up"], 1)).toBe("down");
    expect(combineVerdicts(["unknown", "unknown"], 1)).toBe("unknown");
    // one location still failing, unconfirmed: it might yet be down, so recovery waits
    expect(combineVerdicts(["up", "unknown"], 1)).toBe("unknown");
    expect(combineVerdicts(["up", "up"], 2)).toBe("up");
  });
});

describe("state steps: quiet recovery and flap damping", () => {
  const o: DampingOptions = { recoveryQuietMs: 60_000, flapWindowMs: 600_000, flapThreshold: 4 };
  const up: MonitorCondition = { state: "up", recoveringSince: null, transitions: [] };

  it("goes down once, recovers only after the quiet period", () => {
    const down = step(up, "down", 1_000, o);
    expect(down.event).toBe("down");
    expect(step(down.next, "down", 2_000, o).event).toBe("none");
    const r1 = step(down.next, "up", 10_000, o);
    expect(r1).toMatchObject({ event: "none", next: { state: "down", recoveringSince: 10_000 } });
    const r2 = step(r1.next, "up", 69_999, o);
    expect(r2.event).toBe("none");
    const r3 = step(r2.next, "up", 70_000, o);
    expect(r3).toMatchObject({ event: "recovered", next: { state: "up", recoveringSince: null } });
  });
  it("a failure during the quiet period restarts it, and counts as a flip", () => {
    const calm = { ...o, flapThreshold: 10 };
    let c = step(up, "down", 0, calm).next;
    c = step(c, "up", 10_000, calm).next;
    c = step(c, "down", 20_000, calm).next;
    expect(c.recoveringSince).toBeNull();
    expect(c.transitions).toEqual([0, 10_000, 20_000]);
    c = step(c, "up", 30_000, calm).next;
    expect(step(c, "up", 80_000, calm).event).toBe("none");
    expect(step(c, "up", 90_000, calm).event).toBe("recovered");
  });
  it("held down while flapping, broken recoveries keep it flapping", () => {
    let c = step(up, "down", 0, o).next;
    for (let t = 10_000; t < 400_000; t += 20_000) {
      c = step(c, "up", t, o).next;
      expect(c.state).toBe("down");
      c = step(c, "down", t + 10_000, o).next;
    }
    expect(c.transitions.length).toBeGreaterThanOrEqual(o.flapThreshold);
  });
  it("a flapping monitor waits the whole flap window before it is believed up", () => {
    let c = step(up, "down", 1_000, o).next;
    c = step(c, "up", 2_000, o).next;
    c = step(c, "up", 62_000, o).next;
    expect(c).toEqual({ state: "up", recoveringSince: null, transitions: [1_000, 2_000] });
    c = step(c, "down", 63_000, o).next;
    c = step(c, "up", 64_000, o).next; // the fourth flip in the window: flapping
    // Not after the quiet minute, nor while four flips remain within the window…
    expect(step(c, "up", 64_000 + 60_000, o).event).toBe("none");
    expect(step(c, "up", 600_999, o).event).toBe("none");
    // …but once the oldest has left it.
    expect(step(c, "up", 601_000, o).event).toBe("recovered");
  });
  it("pending becomes up at the first passing verdict, without an event; paused ignores everything", () => {
    const p: MonitorCondition = { state: "pending", recoveringSince: null, transitions: [] };
    expect(step(p, "up", 1, o)).toMatchObject({ event: "none", next: { state: "up" } });
    expect(step(p, "down", 1, o).event).toBe("down");
    expect(step({ ...p, state: "paused" }, "down", 1, o).event).toBe("none");
  });
});

describe("scheduling", () => {
  it("spreads 10,000 monitors evenly over a 30 s interval", () => {
    const interval = 30_000;
    const perSecond = new Array(30).fill(0);
    for (let i = 0; i < 10_000; i++) perSecond[Math.floor(phaseMs(`ws\u0000mon_${i}`, interval) / 1000)]++;
    const max = Math.max(...perSecond);
    const min = Math.min(...perSecond);
    expect(max).toBeLessThan(333 * 1.25);
    expect(min).toBeGreaterThan(333 * 0.75);
  });
  it("slots come from the clock: no drift however late a tick is", () => {
    const phase = 1_234;
    const interval = 30_000;
    const slot = slotAt(1_000_000, phase, interval);
    expect(dueAt(slot, phase, interval)).toBeLessThanOrEqual(1_000_000);
    expect(dueAt(slot + 1, phase, interval)).toBeGreaterThan(1_000_000);
    expect(nextDue(dueAt(slot, phase, interval), phase, interval)).toBe(dueAt(slot + 1, phase, interval));
    // a tick 45 s late skips to the next slot on the same phase
    expect((nextDue(dueAt(slot, phase, interval) + 45_000, phase, interval) - phase) % interval).toBe(0);
  });
  it("jitter is small: at most 2% of the interval, never more than 500 ms", () => {
    expect(jitterMs(0.999, 30_000)).toBeLessThan(500);
    expect(jitterMs(0.999, 10_000)).toBeLessThan(200);
    expect(jitterMs(0, 30_000)).toBe(0);
  });
});

describe("rollups", () => {
  it("buckets per hour with counts and nearest-rank percentiles; [start, end)", () => {
    const H = 3_600_000;
    const results = [
      ...Array.from({ length: 100 }, (_, i) => ({ at: i * 1_000, ok: i % 10 !== 0, latencyMs: i + 1 })),
      { at: H, ok: true, latencyMs: 7 },
      { at: H - 1, ok: false, latencyMs: null },
    ];
    const r = rollUp(results, H);
    expect(r).toEqual([
      { at: 0, checks: 101, failures: 11, latencyP50Ms: 50, latencyP95Ms: 95 },
      { at: H, checks: 1, failures: 0, latencyP50Ms: 7, latencyP95Ms: 7 },
    ]);
    expect(uptimeOf(r)).toBeCloseTo(1 - 11 / 102);
    expect(uptimeOf([])).toBe(1);
  });
});

describe("assertions", () => {
  const res = { status: 200, body: '{"status":"ok","checks":[{"ok":true}]}', latencyMs: 20 };
  it("status, keyword, JSON path and latency", () => {
    expect(httpFailure(res, {})).toBeUndefined();
    expect(httpFailure({ ...res, status: 503 }, {})).toBe("status 503");
    expect(httpFailure({ ...res, status: 503 }, { status: [503] })).toBeUndefined();
    expect(httpFailure(res, { keyword: "ok" })).toBeUndefined();
    expect(httpFailure(res, { keyword: "healthy" })).toMatch(/missing/);
    expect(httpFailure(res, { absentKeyword: "error" })).toBeUndefined();
    expect(httpFailure(res, { jsonPath: { path: "$.checks[0].ok", equals: true } })).toBeUndefined();
    expect(httpFailure(res, { jsonPath: { path: "$.status", equals: "down" } })).toMatch(/\$.status is "ok"/);
    expect(httpFailure({ ...res, body: "<html>" }, { jsonPath: { path: "$.a", equals: 1 } })).toBe(
      "body is not JSON",
    );
    expect(httpFailure(res, { maxLatencyMs: 10 })).toMatch(/over 10 ms/);
    expect(readJsonPath({ a: [{ b: 2 }] }, "$.a[0].b")).toBe(2);
    expect(readJsonPath({ a: 1 }, "$.x.y")).toBeUndefined();
  });
  it("certificate expiry and heartbeat silence", () => {
    const now = new Date("2026-11-23T00:00:00Z");
    expect(certificateFailure(new Date("2027-01-01T00:00:00Z"), now)).toBeUndefined();
    expect(certificateFailure(new Date("2026-11-30T00:00:00Z"), now)).toMatch(/expires in 7 days/);
    expect(certificateFailure(new Date("2026-11-01T00:00:00Z"), now)).toMatch(/expired/);
    const created = new Date(now.getTime() - 100_000);
    expect(heartbeatFailure(null, created, now, 60_000, 50_000)).toBeUndefined();
    expect(heartbeatFailure(null, created, now, 60_000, 30_000)).toMatch(/since the monitor was created/);
    expect(heartbeatFailure(new Date(now.getTime() - 10_000), created, now, 60_000, 0)).toBeUndefined();
  });
});
