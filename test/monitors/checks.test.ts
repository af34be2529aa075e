/**
 * The checks themselves against local servers: TLS certificate expiry (a certificate made by
 * openssl for the test), HTTP timeouts, keyword assertions, and ICMP reported cleanly as
 * unavailable where the system's ping is missing or not permitted.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PING_UNAVAILABLE, runCheck } from "../../src/monitors/checks.ts";
import { Scheduler } from "../../src/monitors/scheduler.ts";

// The targets here are loopback servers: the operator's setting that allows private addresses.
process.env.AMENDS_MONITORS_ALLOW_PRIVATE = "1";

const spec = (kind: any, target: string, assertions: Record<string, unknown> = {}) => ({
  id: "m",
  kind,
  target,
  timeoutMs: 1_000,
  retries: 0,
  assertions,
});

describe("TLS certificate expiry", () => {
  let server: tls.Server;
  let target = "";
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "amends-tls-"));
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "5",
        "-subj",
        "/CN=localhost",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
      ],
      { stdio: "ignore" },
    );
    server = tls.createServer(
      { key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) },
      (s) => s.end(),
    );
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    target = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("fails a certificate closer to expiry than allowed, passes it otherwise", async () => {
    const soon = await runCheck(spec("tls", target, { verify: false, minDaysValid: 14 }));
    expect(soon.ok).toBe(false);
    expect(soon.error).toMatch(/certificate expires in 4 days/);
    const fine = await runCheck(spec("tls", target, { verify: false, minDaysValid: 1 }));
    expect(fine).toMatchObject({ ok: true });
    // Verified by default: a self-signed certificate is refused.
    expect((await runCheck(spec("tls", target))).error).toMatch(/self.signed/i);
  });
});

describe("HTTP checks", () => {
  let server: http.Server;
  let base = "";
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === "/slow") return void setTimeout(() => res.end("late"), 1_500);
      res.end("all systems nominal");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())).then(() => server.closeAllConnections()));

  it("times out, asserts keywords, and retries before failing", async () => {
    const slow = await runCheck({ ...spec("http", `${base}/slow`), timeoutMs: 300 });
    expect(slow).toMatchObject({ ok: false, error: "timed out after 300 ms" });
    expect(await runCheck(spec("http", base, { keyword: "nominal" }))).toMatchObject({ ok: true });
    expect((await runCheck(spec("http", base, { keyword: "degraded" }))).error).toMatch(/missing/);
    const refused = await runCheck({ ...spec("http", "http://127.0.0.1:1/"), retries: 2 });
    expect(refused.ok).toBe(false);
    expect(refused.error).toMatch(/ECONNREFUSED/);
  });
});

describe("ICMP", () => {
  it("pings where permitted, else says cleanly that it cannot", async () => {
    const r = await runCheck(spec("ping", "127.0.0.1"));
    if (!r.ok) expect(r.error).toMatch(new RegExp(`^${PING_UNAVAILABLE}`));
    expect((await runCheck(spec("ping", "127.0.0.1; rm -rf /"))).error).toBe("bad host");
  });
});

describe("scheduler", () => {
  it("runs each job once per slot, on its phase, and skips a slot while the last run is still going", async () => {
    const skippedKeys: string[] = [];
    const scheduler = new Scheduler(Date.now, Math.random, (key) => skippedKeys.push(key));
    const runs: number[] = [];
    let slowRuns = 0;
    scheduler.set({ key: "fast", intervalMs: 100, run: async () => void runs.push(Date.now()) });
    scheduler.set({
      key: "slow",
      intervalMs: 100,
      run: async () => {
        slowRuns++;
        await new Promise((r) => setTimeout(r, 250));
      },
    });
    await new Promise((r) => setTimeout(r, 1_050));
    scheduler.stop();
    expect(runs.length).toBeGreaterThanOrEqual(9);
    expect(runs.length).toBeLessThanOrEqual(11);
    expect(slowRuns).toBeLessThanOrEqual(4);
    const stats = scheduler.stats();
    expect(stats.skipped).toBeGreaterThan(0);
    // Each skip is told, with its job (the engine counts them in amends_monitor_checks_skipped_total).
    expect(skippedKeys).toEqual(Array(stats.skipped).fill("slow"));
    expect(stats.driftP99Ms).toBeLessThan(50);
  });
});
