/**
 * Crash safety of delivery: notification workers are killed with SIGKILL at random moments, 16
 * times, during a 30,000-recipient fan-out on PostgreSQL (every fourth by e-mail through a real
 * SMTP server, the rest by webhook), then run to the end. Counted where the messages land: none
 * may be lost; a message may arrive twice only if it was in flight at a kill, so each kill repeats
 * at most the worker's in-flight limit, always under the same key; and what a killed worker held
 * is taken up within 30 s of a worker's return (the claims' lease, not pg-boss's expiry).
 * CRASH_RECIPIENTS and CRASH_KILLS size it (the suite's size keeps it near two minutes;
 * CRASH_RECIPIENTS=100000 CRASH_KILLS=30 is the full run).
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createComponent } from "../../src/components/store.ts";
import { createIncident } from "../../src/incidents/store.ts";
import { createWorkspace } from "../../src/workspaces/store.ts";
import { freshDatabase } from "../support/backends.ts";
import { SmtpFake } from "../support/fakes/smtp.ts";
import { WebhookReceiver } from "../support/fakes/webhook-receiver.ts";

const WORKER = join(import.meta.dirname, "../support/notify-worker.ts");
const RECIPIENTS = Number(process.env.CRASH_RECIPIENTS ?? 30_000);
const KILLS = Number(process.env.CRASH_KILLS ?? 16);
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/** every EMAIL_EVERY-th subscriber takes e-mail, the others a webhook */
const EMAIL_EVERY = 4;
/** send jobs per worker and messages in flight within each: at most their product can repeat per kill */
const WORKERS = 2;
const PARALLEL = 16;
const IN_FLIGHT = WORKERS * PARALLEL;
/** every this many kills, the next worker is left alone until it has taken up what the dead one held */
const WAIT_EVERY = 8;

function startWorker(url: string, smtpUrl: string) {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", WORKER, url, smtpUrl, String(WORKERS), String(PARALLEL)],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const ready = new Promise<number>((resolve) => {
    child.stdout.on("data", (d) => String(d).includes("ready") && resolve(Date.now()));
  });
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  const exited = new Promise<string>((resolve) => child.on("exit", () => resolve(err)));
  return { child, ready, exited };
}

/** How many keys arrived more than once, by the life (between two kills) of their first arrival. */
function repeatsByLife(keys: string[], boundaries: number[]): number[] {
  const first = new Map<string, number>();
  const count = new Map<string, number>();
  keys.forEach((k, i) => {
    if (!first.has(k)) first.set(k, i);
    count.set(k, (count.get(k) ?? 0) + 1);
  });
  const lives = Array.from({ length: boundaries.length + 1 }, () => 0);
  for (const [k, n] of count) {
    if (n < 2) continue;
    const at = first.get(k)!;
    const life = boundaries.findIndex((b) => at < b);
    lives[life < 0 ? boundaries.length : life]! += n - 1;
  }
  return lives;
}

describe("delivery survives kill -9", () => {
  const receiver = new WebhookReceiver(SECRET);
  const smtp = new SmtpFake();
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let url: string;
  let ws: string;
  const emails = Math.floor(RECIPIENTS / EMAIL_EVERY);
  const webhooks = RECIPIENTS - emails;

  beforeAll(async () => {
    await receiver.start();
    await smtp.start();
    database = await freshDatabase("postgres");
    url = (database as unknown as { pool: { options: { connectionString: string } } }).pool.options
      .connectionString;
    ws = (await createWorkspace(database.db, { slug: "crash", name: "Crash" })).id;
    await createComponent(database.db, ws, { id: "rentals", name: "Rentals" }, new Date());
    await database.query(
      `insert into subscribers (workspace_id, id, channel, address, locale, secrets, confirmed_at, created_at)
       select $1, 'sub_' || lpad(i::text, 6, '0'),
              case when i % $5 = 0 then 'email' else 'webhook' end,
              case when i % $5 = 0 then 'sub' || i || '@crash.example' else $2 || '/hooks/' || i end, 'en',
              case when i % $5 = 0 then null else jsonb_build_object('webhook_secret', $3::text) end, now(), now()
         from generate_series(1, $4::int) i`,
      [ws, receiver.url, SECRET, RECIPIENTS, EMAIL_EVERY],
    );
  }, 60_000);
  afterAll(async () => {
    await database?.close();
    await receiver.stop();
    await smtp.stop();
  });

  it(`delivers to ${RECIPIENTS} recipients, e-mail and webhooks, across ${KILLS} kills`, async () => {
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
    const count = async (sql: string, params: unknown[] = []) =>
      (await database.query<{ n: number }>(sql, [ws, ...params]))[0]!.n;
    const sent = () =>
      count("select count(*)::int as n from deliveries where workspace_id = $1 and status = 'sent'");
    /** the claims held (lease not run out) on rows still queued: the work a kill interrupts */
    const heldClaims = async () =>
      (
        await database.query<{ claim: string }>(
          `select distinct claim from deliveries
            where workspace_id = $1 and status = 'queued' and claim is not null and claimed_until > now()`,
          [ws],
        )
      ).map((r) => r.claim);
    /** how long after `since` no row is left queued under any of `claims` (taken up again, or sent) */
    const resumedAfter = async (claims: string[], since: number) => {
      const deadline = Date.now() + 60_000;
      while (
        claims.length &&
        (await count(
          "select count(*)::int as n from deliveries where workspace_id = $1 and status = 'queued' and claim = any($2::text[])",
          [claims],
        )) > 0 &&
        Date.now() < deadline
      )
        await new Promise((r) => setTimeout(r, 250));
      return (Date.now() - since) / 1000;
    };

    const boundaries = { webhook: [] as number[], email: [] as number[] };
    const resumeTimes: number[] = [];
    let interrupted: string[] = [];
    let kills = 0;
    const started = Date.now();
    for (let k = 0; k < KILLS; k++) {
      const w = startWorker(url, smtp.url);
      const ready = await w.ready;
      if (k % WAIT_EVERY === WAIT_EVERY - 1 && interrupted.length)
        resumeTimes.push(await resumedAfter(interrupted, ready));
      // A random moment: while dispatching, fanning out, or in the middle of a chunk.
      await new Promise((r) => setTimeout(r, 200 + Math.random() * 1_500));
      w.child.kill("SIGKILL");
      await w.exited;
      kills++;
      boundaries.webhook.push(receiver.deliveries.length);
      boundaries.email.push(smtp.received.length);
      interrupted = await heldClaims();
      if ((await sent()) >= RECIPIENTS) break;
    }
    const killing = (Date.now() - started) / 1000;
    const last = startWorker(url, smtp.url);
    const returned = await last.ready;
    resumeTimes.push(await resumedAfter(interrupted, returned));
    const deadline = Date.now() + 240_000;
    while ((await sent()) < RECIPIENTS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    const drained = (Date.now() - returned) / 1000;
    last.child.kill("SIGTERM");
    await last.exited;

    // Lost: what never arrived, counted at the webhook endpoints and the SMTP server.
    expect(receiver.rejected).toEqual([]);
    const idsByPath = new Map<string, Set<string>>();
    for (const r of receiver.requests) {
      const id = String(r.headers["webhook-id"]);
      idsByPath.set(r.path, (idsByPath.get(r.path) ?? new Set()).add(id));
    }
    const idsByAddress = new Map<string, Set<string>>();
    for (const m of smtp.received)
      for (const to of m.to)
        idsByAddress.set(to, (idsByAddress.get(to) ?? new Set()).add(m.message.headers.get("message-id")!));
    const lost = webhooks - idsByPath.size + (emails - idsByAddress.size);
    // Every recipient got its message, and only ever under its one key.
    for (const [path, ids] of idsByPath) {
      expect(ids.size, path).toBe(1);
      expect([...ids][0]!.endsWith(`sub_${path.split("/").pop()!.padStart(6, "0")}:webhook`)).toBe(true);
    }
    for (const [address, ids] of idsByAddress) expect(ids.size, address).toBe(1);

    // Duplicated: arrivals of a key seen before, by the worker life in which it first arrived.
    const perKill = repeatsByLife(
      receiver.deliveries.map((d) => d.id),
      boundaries.webhook,
    ).map(
      (n, i) =>
        n +
        repeatsByLife(
          smtp.received.map((m) => m.message.headers.get("message-id")!),
          boundaries.email,
        )[i]!,
    );
    const duplicated = perKill.reduce((a, b) => a + b, 0);
    const maxResume = Math.max(...resumeTimes);
    console.log(
      `crash test: ${RECIPIENTS} recipients (${webhooks} webhooks, ${emails} e-mails), ${kills} kills in ${killing.toFixed(0)} s: ` +
        `lost ${lost}, duplicated ${duplicated} (at most ${Math.max(...perKill)} per kill, limit ${IN_FLIGHT}), ` +
        `max time to resume ${maxResume.toFixed(1)} s (${resumeTimes.map((t) => t.toFixed(1)).join(", ")}), ` +
        `all delivered ${drained.toFixed(1)} s after the last return`,
    );
    expect(lost).toBe(0);
    expect(await sent()).toBe(RECIPIENTS);
    for (const n of perKill.slice(0, kills)) expect(n).toBeLessThanOrEqual(IN_FLIGHT);
    // The last worker was never killed: nothing it sent can have arrived twice.
    expect(perKill[kills]).toBe(0);
    expect(maxResume).toBeLessThanOrEqual(30);
  }, 600_000);
});
