/**
 * A second location: a real `amends probe` process, connecting from another loopback address
 * (127.0.0.2), registered with its own token. With minLocations 2, a failure seen only from the
 * server's location is vetoed by the probe; once the probe sees it too, it is confirmed.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { BACKENDS } from "../support/backends.ts";
import { until } from "../support/until.ts";
import { flakyHttp, startMonitorApp } from "./support.ts";

const BIN = fileURLToPath(new URL("../../bin/amends.js", import.meta.url));
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function startProbe(url: string, token: string): ChildProcess {
  const child = spawn(
    process.execPath,
    [BIN, "probe", "--url", url, "--token", token, "--source-address", "127.0.0.2"],
    {
      env: { ...process.env, AMENDS_PROBE_REFRESH_MS: "300", AMENDS_PROBE_FLUSH_MS: "200" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  );
  return child;
}

describe.each(BACKENDS)("a second probe location on %s", (backend) => {
  it("vetoes a failure seen from one place, confirms one seen from both", async () => {
    const t = await startMonitorApp(backend);
    cleanup.push(t.close);
    const target = await flakyHttp();
    cleanup.push(target.close);
    expect((await t.call("POST", "/api/v1/components", { id: "api", name: "Rental API" })).status).toBe(201);
    const reg = await t.call("POST", "/api/v1/probes", { name: "Frankfurt", location: "eu-central" });
    expect(reg.status).toBe(201);
    expect(reg.json.token).toMatch(/^amp_/);
    expect((await t.call("POST", "/api/v1/probes", { name: "x", location: "local" })).json.errors).toEqual([
      expect.objectContaining({ field: "location" }),
    ]);
    // Without the probe's token, nothing.
    const anonymous = await fetch(`${t.url}/api/v1/probe/assignments`);
    expect(anonymous.status).toBe(401);

    const created = await t.call("POST", "/api/v1/monitors", {
      id: "api-health",
      name: "Rental API",
      kind: "http",
      target: target.url,
      componentIds: ["api"],
      intervalSeconds: 1,
      timeoutMs: 500,
      confirm: { consecutive: 2 },
      minLocations: 2,
    });
    expect(created.status).toBe(201);
    const probe = startProbe(t.url, reg.json.token);
    let output = "";
    probe.stdout!.on("data", (c) => (output += c));
    probe.stderr!.on("data", (c) => (output += c));
    const results = async () =>
      (await t.call("GET", "/api/v1/monitors/api-health/results")).json.items as any[];
    await until(
      "results from both locations",
      async () => new Set((await results()).map((r) => r.location)).size === 2,
      20_000,
    ).catch((err) => {
      throw new Error(`${err.message}\nprobe said: ${output}`);
    });
    expect(target.state.from.get("127.0.0.2")).toBeGreaterThan(0);
    await until("up", async () => (await t.call("GET", "/api/v1/monitors/api-health")).json.state === "up");

    // The server's own location cannot reach it; the probe can.
    target.state.failFrom.add("127.0.0.1");
    await until(
      "several failures from the server",
      async () => (await results()).filter((r) => r.location === "local" && !r.ok).length >= 4,
      15_000,
    );
    const seen = await results();
    expect(seen.filter((r) => r.location === "eu-central" && r.ok).length).toBeGreaterThan(0);
    expect((await t.call("GET", "/api/v1/monitors/api-health")).json.state).toBe("up");
    expect((await t.call("GET", "/api/v1/incidents?state=open")).json.incidents).toHaveLength(0);

    // Now it fails from everywhere: confirmed by both.
    target.state.failing = true;
    await until(
      "the incident opens",
      async () => (await t.call("GET", "/api/v1/incidents?state=open")).json.incidents.length === 1,
      15_000,
    );
    const failing = (await results()).filter((r) => !r.ok);
    expect(new Set(failing.map((r) => r.location))).toEqual(new Set(["local", "eu-central"]));
    const probes = (await t.call("GET", "/api/v1/probes")).json.items;
    expect(probes[0]).toMatchObject({ location: "eu-central", name: "Frankfurt" });
    expect(probes[0].lastSeenAt).not.toBeNull();
  }, 90_000);
});
