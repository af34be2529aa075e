/**
 * A compensation run's first step: creating the run and its preview (approve.ts, apply.ts follow).
 *
 * The policies SQL can express are previewed by SQL (preview-sql.ts), any other through the pure
 * engine (preview-engine.ts), held equal by the invariants test. The same preview asked twice is
 * the same run.
 */
import { createHash } from "node:crypto";
import { and, eq } from "drizzle-orm";
import type { EngineContext } from "../core/compensation/engine.ts";
import { isWithin } from "../core/compensation/engine.ts";
import { policyGroups } from "../core/compensation/policy.ts";
import { emptyTotals, sortedTotals, sortKeys } from "../core/compensation/preview.ts";
import { LocalCalendar, parseWindow } from "../core/compensation/time.ts";
import { conflict } from "../core/errors.ts";
import { getIncident } from "../incidents/store.ts";
import { newId } from "../lib/ids.ts";
import { countCompensationLines, timeCompensation } from "../lib/metrics.ts";
import type { Database } from "../storage/database.ts";
import { components, compRuns } from "../storage/schema.ts";
import { loadPolicy } from "./policies.ts";
import { type Counts, previewInEngine } from "./preview-engine.ts";
import { LINE_FIELDS, previewInSql, previewsInSql, rowsDigestSql } from "./preview-sql.ts";
import { getRun, type Run } from "./run-store.ts";

export interface PreviewInput {
  incidentId: string;
  policyId: string;
  policyVersion?: number;
  /** the run's time, base of credit validity; now when absent */
  asOf?: Date;
  /** when the fault was detected, base of refund deadlines; the incident's creation when absent */
  detectedAt?: Date;
  /** through the engine even when SQL could do it, and always as a new run: lets the tests hold the two equal */
  engineOnly?: boolean;
}

export function createPreview(
  database: Database,
  workspaceId: string,
  input: PreviewInput,
  actor: string | null,
  now: Date,
): Promise<Run> {
  return timeCompensation("preview", async () => {
    const run = await preview(database, workspaceId, input, actor, now);
    countCompensationLines("preview", Number(run.summary.lines ?? 0));
    return run;
  });
}

async function preview(
  database: Database,
  workspaceId: string,
  input: PreviewInput,
  actor: string | null,
  now: Date,
): Promise<Run> {
  const incident = await getIncident(database.db, workspaceId, input.incidentId);
  const stored = await loadPolicy(database.db, workspaceId, input.policyId, input.policyVersion);
  const policy = stored.policy;
  if (policy.match.incident && policy.match.incident !== incident.id) {
    throw conflict(
      `policy "${stored.id}" is written for incident "${policy.match.incident}", not "${incident.id}"`,
      "policy",
    );
  }
  const asOf = input.asOf ?? now;
  const fault = policy.match.billing_fault;
  const window = policy.match.window
    ? parseWindow(policy.match.window)
    : fault
      ? parseWindow(fault.window)
      : { start: incident.startedAt.getTime(), end: (incident.resolvedAt ?? asOf).getTime() };
  if (window.end <= window.start)
    throw conflict("the incident's window is empty: it was resolved when it started");

  const comps = await database.db
    .select({ id: components.id, parentId: components.parentId })
    .from(components)
    .where(eq(components.workspaceId, workspaceId));
  const base: Omit<EngineContext, "applied"> = {
    policy,
    incident: {
      id: incident.id,
      window,
      detectedAt: (input.detectedAt ?? incident.createdAt).getTime(),
      components: incident.components.map((c) => c.componentId),
    },
    parents: new Map(comps.map((c) => [c.id, c.parentId])),
    asOf: asOf.getTime(),
  };

  // A monthly cap counts what other incidents of the same (local) month already paid.
  const monthlyCap = policyGroups(policy).some((g) => g.cap?.per_customer_per_month);
  const calendar = new LocalCalendar(policy.time_zone, policy.holidays);
  const firstDay = calendar.dateOf(window.start).with({ day: 1 });
  const month = monthlyCap
    ? { start: calendar.startOf(firstDay), end: calendar.startOf(firstDay.add({ months: 1 })) }
    : undefined;

  let runId = newId("run");
  /** the SQL preview fingerprints its lines as it writes them, sparing a second read */
  let linesDigest: string | undefined;
  let totals = emptyTotals();
  const counts: Counts = {
    customers: 0,
    affected: 0,
    excluded: 0,
    excluded_reasons: {},
    review: 0,
    notifications: 0,
  };

  await database
    .transaction(async (tx) => {
      // A large preview aggregates hundreds of thousands of customers: in memory, not on disk
      // (on a server; embedded, memory once grown stays with the process). Its statements run
      // once over a million rows; compiling them (JIT) cost more than it saved.
      if (tx.kind === "postgres") await tx.query("set local work_mem = '256MB'");
      await tx.query("set local jit = off");
      // Read before the data: a change committed in between then shows as a newer version.
      const [usage] = await tx.query<{ version: number }>(
        "select version from usage_versions where workspace_id = $1",
        [workspaceId],
      );
      await tx.db.insert(compRuns).values({
        usageVersion: Number(usage?.version ?? 0),
        workspaceId,
        id: runId,
        incidentId: incident.id,
        policyId: stored.id,
        policyVersion: stored.version,
        status: "previewing",
        asOf,
        windowStart: new Date(window.start),
        windowEnd: new Date(window.end),
        summary: {},
        previewHash: "",
        createdAt: now,
        createdBy: actor,
      });

      if (!input.engineOnly && previewsInSql(policy)) {
        // The components a session must be on: the roots and everything below them.
        const roots = policy.match.components ?? base.incident.components;
        const below = comps.map((c) => c.id).filter((id) => isWithin(id, roots, base.parents));
        const {
          money,
          units,
          lines,
          linesDigest: digest,
          ...sqlCounts
        } = await previewInSql(tx, policy, {
          workspaceId,
          runId,
          incidentId: incident.id,
          window,
          asOf: base.asOf,
          detectedAt: base.incident.detectedAt,
          components: roots.length ? [...new Set([...roots, ...below])] : null,
        });
        Object.assign(counts, sqlCounts, { excluded_reasons: sortKeys(sqlCounts.excluded_reasons) });
        totals = { money, units, lines };
        linesDigest = digest;
      } else {
        await previewInEngine(tx, workspaceId, runId, base, month, counts, totals);
      }
      // Customers who told us they were affected ("I am affected") are candidates for review,
      // whatever the policy found: a person checks what they say against what the data shows.
      const reported = await tx.query<{ n: number }>(
        `with inserted as (
         insert into comp_run_items (workspace_id, run_id, type, customer_id, reference, reason, detail, key)
         select workspace_id, $2, 'review', coalesce(customer_id, 'report:' || id), id, 'reported_affected',
                left(concat_ws(' · ', component_id, city, contact, nullif(text, '')), 500), null
           from affected_reports where workspace_id = $1 and incident_id = $3
         on conflict do nothing returning 1)
       select count(*)::int as n from inserted`,
        [workspaceId, runId, incident.id],
      );
      counts.review += reported[0]?.n ?? 0;

      const t = sortedTotals(totals);
      const summary = { money: t.money, units: t.units, lines: t.lines, ...counts };
      const previewHash = await previewDigest(tx, workspaceId, runId, summary, linesDigest);
      // The same inputs and outcome as a preview still waiting for approval: that run, not a
      // second one, so the same preview asked twice answers byte for byte the same.
      if (!input.engineOnly) {
        const [same] = await tx.query<{ id: string }>(
          `select id from comp_runs where workspace_id = $1 and incident_id = $2 and policy_id = $3
           and policy_version = $4 and as_of = $5 and window_start = $6 and window_end = $7
           and preview_hash = $8 and status = 'previewed' and id <> $9
         order by created_at, id limit 1`,
          [
            workspaceId,
            incident.id,
            stored.id,
            stored.version,
            asOf.toISOString(),
            new Date(window.start).toISOString(),
            new Date(window.end).toISOString(),
            previewHash,
            runId,
          ],
        );
        if (same) throw new SamePreview(same.id);
      }
      await tx.db
        .update(compRuns)
        .set({ status: "previewed", summary, previewHash })
        .where(and(eq(compRuns.workspaceId, workspaceId), eq(compRuns.id, runId)));
    })
    .catch((err) => {
      if (!(err instanceof SamePreview)) throw err;
      runId = err.runId;
    });
  return getRun(database.db, workspaceId, runId);
}

/** Rolls back a preview that an earlier run already holds. */
class SamePreview extends Error {
  constructor(readonly runId: string) {
    super(`same as run ${runId}`);
  }
}

/**
 * A fingerprint of what a preview stored (its run left out), the same whichever way it was
 * computed (rowsDigestSql): nothing is read back into JavaScript. `linesDigest`, when the SQL
 * preview took it as it wrote the lines, spares reading them again.
 */
async function previewDigest(
  tx: Database,
  workspaceId: string,
  runId: string,
  summary: object,
  linesDigest?: string,
) {
  const digest = (columns: readonly string[], table: string) =>
    `(select ${rowsDigestSql(columns)} from ${table} where workspace_id = $1 and run_id = $2)`;
  const [rows] = await tx.query<Record<string, string>>(
    `select ${linesDigest === undefined ? digest(LINE_FIELDS, "comp_run_lines") : "$3::text"} as lines,
       ${digest(["type", "customer_id", "reference", "reason", "detail", "key"], "comp_run_items")} as items,
       ${digest(["customer_id"], "comp_run_notices")} as notices`,
    [workspaceId, runId, ...(linesDigest === undefined ? [] : [linesDigest])],
  );
  return createHash("sha256")
    .update(JSON.stringify({ ...rows, summary }))
    .digest("hex");
}
