/**
 * Flap damping against a real server that fails and recovers every few seconds: without damping
 * each cycle would open and resolve an incident; damped, the monitor stays down (one incident)
 * while it flaps, and recovers once it has been quiet for the whole flap window.
 */
import { afterEach, describe, expect, it } from "vitest";
import { until } from "../support/until.ts";
import { flakyHttp, startMonitorApp } from "./support.ts";

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

describe("flapping", () => {
  it("opens at most two incidents over four fail/recover cycles, then resolves once stable", async () => {
    const t = await startMonitorApp("pglite", {
      recoveryQuietMs: 1_000,
      flapWindowMs: 10_000,
      flapThreshold: 3,
    });
    cleanup.push(t.close);
    const target = await flakyHttp();
    cleanup.push(target.close);
    await t.call("POST", "/api/v1/components", { id: "api", name: "API" });
    await t.call("POST", "/api/v1/monitors", {
      id: "flappy",
      name: "Flappy API",
      kind: "http",
      target: target.url,
      componentIds: ["api"],
      intervalSeconds: 1,
      timeoutMs: 500,
      confirm: { consecutive: 1 },
    });
    await until(
      "up",
      async () => (await t.call("GET", "/api/v1/monitors/flappy")).json.state === "up",
      10_000,
    );
    for (let cycle = 0; cycle < 4; cycle++) {
      target.state.failing = true;
      await new Promise((r) => setTimeout(r, 1_500));
      target.state.failing = false;
      await new Promise((r) => setTimeout(r, 2_500));
    }
    const all = async () => (await t.call("GET", "/api/v1/incidents?state=all")).json.incidents as any[];
    expect((await all()).length).toBeGreaterThanOrEqual(1);
    expect((await all()).length).toBeLessThanOrEqual(2);
    // Stable now: believed after the whole flap window (10 s) of passing checks.
    await until("resolved", async () => (await all()).every((i) => i.status === "resolved"), 20_000);
    expect((await all()).length).toBeLessThanOrEqual(2);
    // Real time: four cycles and the 10 s window take about 25 s; the limit leaves three times that.
  }, 90_000);
});
