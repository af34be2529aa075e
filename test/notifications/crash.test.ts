/**
 * Crash safety of delivery: notification workers are killed with SIGKILL at random moments, 30
 * times, during a 100,000-recipient fan-out on PostgreSQL, then run to the end. No message may be
 * lost, and any message a provider saw twice must carry the same idempotency key both times.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createComponent } from "../../src/components/store.ts";
import { createIncident } from "../../src/incidents/store.ts";
import { createWorkspace } from "../../src/workspaces/store.ts";
import { freshDatabase } from "../support/backends.ts";
import { WebhookReceiver } from "../support/fakes/webhook-receiver.ts";

const WORKER = join(import.meta.dirname, "../support/notify-worker.ts");
const RECIPIENTS = Number(process.env.CRASH_RECIPIENTS ?? 100_000);
const KILLS = Number(process.env.CRASH_KILLS ?? 30);
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

function startWorker(url: string) {
  const child = spawn(process.execPath, ["--import", "tsx", WORKER, url], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const ready = new Promise<void>((resolve) => {
    child.stdout.on("data", (d) => String(d).includes("ready") && resolve());
  });
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  const exited = new Promise<string>((resolve) => child.on("exit", () => resolve(err)));
  return { child, ready, exited };
}

describe("delivery survives kill -9", () => {
  const receiver = new WebhookReceiver(SECRET);
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let url: string;
  let ws: string;

  beforeAll(async () => {
    await receiver.start();
    database = await freshDatabase("postgres");
    url = (database as unknown as { pool: { options: { connectionString: string } } }).pool.options
      .connectionString;
    ws = (await createWorkspace(database.db, { slug: "crash", name: "Crash" })).id;
    await createComponent(database.db, ws, { id: "rentals", name: "Rentals" }, new Date());
    await database.query(
      `insert into subscribers (workspace_id, id, channel, address, locale, secrets, confirmed_at, created_at)
       select $1, 'sub_' || lpad(i::text, 6, '0'), 'webhook', $2 || '/hooks/' || i, 'en',
              jsonb_build_object('webhook_secret', $3::text), now(), now()
         from generate_series(1, $4::int) i`,
      [ws, receiver.url, SECRET, RECIPIENTS],
    );
  }, 60_000);
  afterAll(async () => {
    await database?.close();
    await receiver.stop();
  });

  it(`delivers to ${RECIPIENTS} recipients once each across ${KILLS} kills`, async () => {
    await createIncident(
      database.db,
      ws,
      {
        id: "INC-CRASH",
        title: "Rentals cannot be ended",
        update: { body: "Investigating", components: [{ componentId: "rentals", status: "major_outage" }] },
      },
      new Date(),
    );
    const sent = async () =>
      (
        await database.query<{ n: number }>(
          "select count(*)::int as n from deliveries where workspace_id = $1 and status = 'sent'",
          [ws],
        )
      )[0]!.n;
    for (let k = 0; k < KILLS; k++) {
      const w = startWorker(url);
      await w.ready;
      // A random moment: while dispatching, fanning out, or in the middle of a chunk.
      await new Promise((r) => setTimeout(r, 200 + Math.random() * 1_500));
      w.child.kill("SIGKILL");
      await w.exited;
      if ((await sent()) >= RECIPIENTS) break;
    }
    const last = startWorker(url);
    await last.ready;
    const deadline = Date.now() + 240_000;
    while ((await sent()) < RECIPIENTS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    last.child.kill("SIGTERM");
    await last.exited;

    expect(await sent()).toBe(RECIPIENTS);
    expect(receiver.rejected).toEqual([]);
    // Every recipient's endpoint got its message, and only ever under its one key.
    const keysByPath = new Map<string, Set<string>>();
    for (const r of receiver.requests) {
      const id = String(r.headers["webhook-id"]);
      keysByPath.set(r.path, (keysByPath.get(r.path) ?? new Set()).add(id));
    }
    expect(keysByPath.size).toBe(RECIPIENTS);
    for (const [path, keys] of keysByPath) {
      expect(keys.size, path).toBe(1);
      expect([...keys][0]).toMatch(/^incident:INC-CRASH:upd_\w+:subscriber:sub_\d{6}:webhook$/);
      expect([...keys][0]!.endsWith(`sub_${path.split("/").pop()!.padStart(6, "0")}:webhook`)).toBe(true);
    }
    const repeats = receiver.requests.length - RECIPIENTS;
    console.log(
      `crash test: ${receiver.requests.length} requests for ${RECIPIENTS} recipients (${repeats} repeats)`,
    );
  }, 600_000);
});
