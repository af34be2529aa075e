/**
 * Crash safety: a process applying a run (and exporting it to Stripe) is killed with SIGKILL at
 * random moments, 50 times, then run to the end. Every action must be booked exactly once, the
 * ledger must balance, and Stripe must have seen each idempotency key's effect once.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildServer } from "../../src/http/server.ts";
import { createToken } from "../../src/tokens/store.ts";
import { createWorkspace } from "../../src/workspaces/store.ts";
import { freshDatabase } from "../support/backends.ts";
import { StripeFake } from "../support/stripe-fake.ts";

const WORKER = join(import.meta.dirname, "../support/apply-worker.ts");
const KILLS = 50;

function runWorker(args: string[], killAfterMs: number | null): Promise<"done" | "killed"> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", WORKER, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
      if (killAfterMs !== null && out.includes("ready")) {
        killAfterMs !== -1 && setTimeout(() => child.kill("SIGKILL"), killAfterMs);
        killAfterMs = -1;
      }
    });
    child.stderr.on("data", (d) => (err += d));
    child.on("exit", (code, signal) => {
      if (signal === "SIGKILL") resolve("killed");
      else if (code === 0 && out.includes("done")) resolve("done");
      else reject(new Error(`worker exited ${code}: ${err}`));
    });
  });
}

describe("apply survives kill -9", () => {
  const stripe = new StripeFake();
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let url: string;
  let ws: string;
  let runId: string;
  const customers = 40;

  beforeAll(async () => {
    await stripe.start();
    database = await freshDatabase("postgres");
    url = (database as any).pool.options.connectionString;
    const workspace = await createWorkspace(database.db, { slug: "crash", name: "Crash" });
    ws = workspace.id;
    const { secret } = await createToken(database.db, { workspaceId: ws, name: "t" });
    const app = await buildServer({ database });
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await app.inject({
        method: method as "GET",
        url: path,
        headers: { authorization: `Bearer ${secret}` },
        ...(body !== undefined && { payload: body as object }),
      });
      expect(res.statusCode, res.body).toBeLessThan(300);
      return res.json();
    };
    await call("POST", "/api/v1/components", { id: "rentals", name: "Rentals" });
    const ids = Array.from({ length: customers }, (_, i) => `K${String(i).padStart(3, "0")}`);
    await call(
      "POST",
      "/api/v1/import/customers",
      ids.map((id) => ({ id, currency: "EUR", email: `${id}@example.com`, stripe_customer_id: `cus_${id}` })),
    );
    for (const id of ids) stripe.customers.add(`cus_${id}`);
    const sessions = ids.flatMap((id, i) =>
      [0, 1, 2].map((j) => ({
        id: `${id}-S${j}`,
        customer_id: id,
        kind: "rental",
        component_id: "rentals",
        started_at: `2025-01-10T0${j}:${String(i % 60).padStart(2, "0")}:00Z`,
        ended_at: `2025-01-10T0${j + 4}:00:00Z`,
        charge: 1000 + i * 7 + j,
        currency: "EUR",
      })),
    );
    await call("POST", "/api/v1/import/sessions", sessions);
    await call(
      "POST",
      "/api/v1/import/charges",
      sessions.map((s) => ({
        id: `ch_${s.id}`,
        customer_id: s.customer_id,
        usage_ref: s.id,
        amount: s.charge,
        currency: "EUR",
        status: "succeeded",
        created_at: s.ended_at,
      })),
    );
    for (const s of sessions)
      stripe.charges.set(`ch_${s.id}`, { amount: s.charge, refunded: 0, currency: "eur" });
    await call("POST", "/api/v1/incidents", {
      id: "INC-CRASH",
      title: "Down",
      body: "x",
      started_at: "2025-01-10T01:00:00Z",
    });
    await call("POST", "/api/v1/incidents/INC-CRASH/resolve", { resolved_at: "2025-01-10T03:00:00Z" });
    await call("POST", "/api/v1/policies", {
      yaml: "policy: crash\nrules:\n  - {id: prorata, action: {refund: prorata_overlap}}\n  - {id: goodwill, per: customer, action: {fixed: {EUR: 300}}}\ncombine: sum\n",
    });
    runId = (await call("POST", "/api/v1/incidents/INC-CRASH/compensation-runs", { policy: "crash" })).id;
    await call("POST", `/api/v1/compensation-runs/${runId}/approve`);
    await app.close();
  }, 60_000);

  afterAll(async () => {
    await database?.close();
    await stripe.stop();
  });

  it(`books every action exactly once after ${KILLS} kills`, async () => {
    const args = [url, ws, runId, stripe.url];
    let killed = 0;
    let midway = 0;
    const total = (
      await database.query<{ n: number }>("select count(*)::int as n from comp_run_lines where run_id = $1", [
        runId,
      ])
    )[0]!.n;
    for (let i = 0; i < KILLS; i++) {
      // Kills land while applying (chunks of 3 lines, one transaction each) or exporting. Most
      // soon after start: once the run is done, a worker has little to do and often ends first.
      if ((await runWorker(args, Math.floor(Math.random() ** 2 * 150))) === "killed") killed++;
      const [booked] = await database.query<{ n: number }>(
        "select count(*)::int as n from ledger_entries where run_id = $1",
        [runId],
      );
      const sent = stripe.effects.length;
      if ((booked!.n > 0 && booked!.n < total) || (sent > 0 && sent < total)) midway++;
    }
    expect(await runWorker(args, null)).toBe("done");
    expect(killed).toBeGreaterThan(KILLS / 2);
    expect(midway).toBeGreaterThan(2);

    const lines = await database.query<{ key: string; target: number; refunded_elsewhere: number }>(
      "select key, target, refunded_elsewhere from comp_run_lines where run_id = $1",
      [runId],
    );
    const entries = await database.query<{ action_key: string; n: number; total: number }>(
      "select action_key, count(*)::int as n, sum(amount)::bigint as total from ledger_entries where run_id = $1 group by action_key",
      [runId],
    );
    expect(entries).toHaveLength(lines.length);
    const byKey = new Map(entries.map((e) => [e.action_key, e]));
    for (const l of lines)
      expect(byKey.get(l.key)).toEqual({ action_key: l.key, n: 1, total: l.target - l.refunded_elsewhere });
    expect(
      await database.query("select currency from ledger_postings group by currency having sum(amount) <> 0"),
    ).toEqual([]);

    const keys = stripe.effects.map((e) => e.key);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.length).toBe(lines.length);
    const [messages] = await database.query<{ n: number }>(
      "select count(*)::int as n from outbox_messages where incident_id = 'INC-CRASH' and event = 'compensation.granted'",
    );
    expect(messages!.n).toBe(customers);
    const [run] = await database.query<{ status: string; applied_summary: Record<string, unknown> }>(
      "select status, applied_summary from comp_runs where id = $1",
      [runId],
    );
    expect(run!.status).toBe("applied");
    // The stored summary counts what every attempt booked, not only the last one's.
    const money = entries.reduce((sum, e) => sum + Number(e.total), 0);
    expect(run!.applied_summary).toMatchObject({
      entries: lines.length,
      skipped: 0,
      money: { EUR: money },
      units: {},
    });
  }, 300_000);
});
