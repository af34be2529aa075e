import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshDatabase } from "./support/backends.ts";

const run = promisify(execFile);
const BIN = join(import.meta.dirname, "../bin/amends.js");

async function amends(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err: any) {
    return { code: err.code as number, stdout: err.stdout as string, stderr: err.stderr as string };
  }
}

async function waitFor(url: string, ms = 30_000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not come up`);
}

describe("amends CLI with the embedded database", () => {
  const dir = mkdtempSync(join(tmpdir(), "amends-cli-"));
  const env = { AMENDS_DATA_DIR: dir, PORT: String(20_000 + Math.floor(Math.random() * 20_000)) };
  const base = `http://127.0.0.1:${env.PORT}`;
  let server: ChildProcess;

  beforeAll(async () => {
    const demo = await amends(["--json", "demo"], env);
    expect(demo.code, demo.stderr).toBe(0);
    expect(JSON.parse(demo.stdout)).toMatchObject({ workspace: "fleet", customers: 2000 });
    server = spawn(process.execPath, [BIN, "serve"], { env: { ...process.env, ...env }, stdio: "pipe" });
    await waitFor(`${base}/healthz`);
  }, 90_000);

  afterAll(async () => {
    server?.kill("SIGTERM");
    await new Promise((r) => server?.once("exit", r));
    expect(existsSync(join(dir, "server.json"))).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });

  it("opens, updates and resolves an incident through the running server, visible at once", async () => {
    const open = await amends(
      [
        "--json",
        "incident",
        "open",
        "--title",
        "Payments fail in Rome",
        "--body",
        "Cards are declined.",
        "-c",
        "payments-rome=partial_outage",
        "--eta",
        "2h",
      ],
      env,
    );
    expect(open.code, open.stderr).toBe(0);
    const id = JSON.parse(open.stdout).id;
    let summary: any = await (await fetch(`${base}/api/v2/summary.json`)).json();
    expect(summary.incidents.map((i: any) => i.id)).toEqual([id]);
    expect(summary.components.find((c: any) => c.id === "payments-rome").status).toBe("partial_outage");

    const upd = await amends(
      ["incident", "update", id, "--status", "identified", "--body", "Acquirer timeout"],
      env,
    );
    expect(upd.code, upd.stderr).toBe(0);
    expect(upd.stdout).toContain("identified");
    expect(await (await fetch(`${base}/`)).text()).toContain("Acquirer timeout");

    const res = await amends(["incident", "resolve", id], env);
    expect(res.code, res.stderr).toBe(0);
    summary = await (await fetch(`${base}/api/v2/summary.json`)).json();
    expect(summary.incidents).toEqual([]);
    expect(summary.status.indicator).toBe("none");
  }, 60_000);

  it("reports bad input by field and changes nothing", async () => {
    const before: any = await (await fetch(`${base}/api/v2/incidents.json`)).json();
    const bad = await amends(
      ["incident", "open", "--title", "x", "--body", "y", "-c", "ghost=major_outage"],
      env,
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("components.0.id");
    const wrong = await amends(
      ["incident", "open", "--title", "x", "--body", "y", "-c", "payments-rome=kaputt"],
      env,
    );
    expect(wrong.stderr).toContain("components.0.status");
    const after: any = await (await fetch(`${base}/api/v2/incidents.json`)).json();
    expect(after.incidents.length).toBe(before.incidents.length);
  }, 60_000);

  it("creates a token that works over HTTP, and lists components", async () => {
    const created = await amends(["--json", "token", "create", "--name", "ops", "--scope", "read"], env);
    expect(created.code, created.stderr).toBe(0);
    const { secret } = JSON.parse(created.stdout);
    const list = await amends(["--url", base, "--token", secret, "component", "list"], env);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/End rental/);
    expect(list.stdout).toMatch(/end-rental-milan \[milan\]/);
    const denied = await amends(
      ["--url", base, "--token", secret, "incident", "open", "--title", "x", "--body", "y"],
      env,
    );
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain("FORBIDDEN");
  }, 60_000);

  it("imports a CSV (a bad row writes nothing) and runs compensation for the demo outage", async () => {
    const bad = join(dir, "bad.csv");
    writeFileSync(bad, "id,home_region,currency\nN1,milan,EUR\nN2,rome,EURO\n");
    const refused = await amends(["import", "customers", bad], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/line 3, currency/);
    const good = join(dir, "good.csv");
    writeFileSync(good, "id,home_region,currency\nN1,milan,EUR\nN2,rome,EUR\n");
    const imported = await amends(["--json", "import", "customers", good], env);
    expect(JSON.parse(imported.stdout)).toEqual({ kind: "customers", rows: 2 });

    const incidents = JSON.parse(
      (await amends(["--json", "incident", "list", "--state", "resolved"], env)).stdout,
    );
    const outage = incidents.incidents.find((i: any) => i.id.endsWith("end-rental")).id;
    const policyFile = fileURLToPath(
      new URL("../examples/policies/fleet-end-rental-outage.yaml", import.meta.url),
    );
    const preview = await amends(
      ["compensate", "preview", "--incident", outage, "--policy", policyFile, "--json"],
      env,
    );
    expect(preview.code, preview.stderr).toBe(0);
    const doc = JSON.parse(preview.stdout);
    expect(doc.lines.length).toBeGreaterThan(50);
    const runId = doc.run.id;
    expect((await amends(["compensate", "approve", runId], env)).code).toBe(0);
    const applied = await amends(["compensate", "apply", runId], env);
    expect(applied.stdout).toMatch(/applied: \d+ ledger entries/);
    const csvOut = join(dir, "run.csv");
    expect((await amends(["compensate", "export", runId, "--to", "csv", "--out", csvOut], env)).code).toBe(0);
    expect(readFileSync(csvOut, "utf8").split("\n").length).toBe(doc.lines.length + 2);
    const reportOut = join(dir, "report.html");
    expect((await amends(["compensate", "report", runId, "--out", reportOut], env)).code).toBe(0);
    const report = readFileSync(reportOut, "utf8");
    expect(report).toContain("Amount by city (EUR)");
    expect(report).toContain("whole_rental");
    // the same file again is the same policy version, and what was applied is not paid again
    const again = JSON.parse(
      (await amends(["compensate", "preview", outage, "--policy", policyFile, "--json"], env)).stdout,
    );
    expect(again.run.policy).toEqual(doc.run.policy);
    expect(again.run.summary.lines).toBe(0);
  }, 90_000);

  it("estimates who an incident would reach and lists notification events", async () => {
    const est = await amends(["--json", "notifications", "estimate", "-c", "end-rental-milan"], env);
    expect(est.code, est.stderr).toBe(0);
    expect(JSON.parse(est.stdout)).toMatchObject({ total: expect.any(Number), sms: { cost: [] } });
    const events = await amends(["notifications", "events"], env);
    expect(events.code, events.stderr).toBe(0);
  }, 60_000);

  it("writes a static copy of the public page", async () => {
    const out = join(dir, "static");
    const res = await amends(["export-static", out], env);
    expect(res.code, res.stderr).toBe(0);
    expect(readFileSync(join(out, "index.html"), "utf8")).toContain("The Fleet");
    expect(readFileSync(join(out, "it", "index.html"), "utf8")).toContain('<html lang="it">');
    const live = await (await fetch(`${base}/api/v2/components.json`)).text();
    expect(readFileSync(join(out, "api", "v2", "components.json"), "utf8")).toBe(live);
    expect(existsSync(join(out, "history.rss"))).toBe(true);
    const incidents = JSON.parse(readFileSync(join(out, "api", "v2", "incidents.json"), "utf8")).incidents;
    expect(existsSync(join(out, "incidents", incidents[0].id, "index.html"))).toBe(true);
  }, 60_000);

  it("refuses to open the embedded database twice", async () => {
    const second = await amends(["serve"], { ...env, PORT: String(Number(env.PORT) + 1) });
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/another Amends server/);
  }, 60_000);
});

describe("amends CLI on PostgreSQL", () => {
  it("loads the demo and drives the API in-process", async () => {
    const database = await freshDatabase("postgres");
    const url = (database as any).pool.options.connectionString as string;
    await database.close();
    const env = { DATABASE_URL: url };
    expect((await amends(["demo"], env)).code).toBe(0);
    const open = await amends(
      ["--json", "incident", "open", "--title", "Berlin down", "--body", "b", "-c", "app-berlin"],
      env,
    );
    expect(open.code, open.stderr).toBe(0);
    expect(JSON.parse(open.stdout).components).toEqual([{ id: "app-berlin", status: "major_outage" }]);
    const list = await amends(["--json", "incident", "list", "--state", "open"], env);
    expect(JSON.parse(list.stdout).incidents).toHaveLength(1);
  }, 90_000);
});
