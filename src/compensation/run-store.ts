/**
 * A compensation run's record: the row, its lines back as the engine wrote them, reading one run
 * and listing them. Shared by every step (run-preview.ts, approve.ts, apply.ts, routes.ts).
 */
import { and, asc, eq } from "drizzle-orm";
import type { ActionLine, LineKind } from "../core/compensation/engine.ts";
import { notFound } from "../core/errors.ts";
import type { Db } from "../storage/database.ts";
import { type compRunLines, compRuns } from "../storage/schema.ts";

export type Run = typeof compRuns.$inferSelect;

export type RunLine = typeof compRunLines.$inferSelect;

/** A stored line back as the engine wrote it. */
export function lineOf(r: RunLine): ActionLine {
  return {
    key: r.key,
    customerId: r.customerId,
    kind: r.kind as LineKind,
    amount: r.amount,
    currency: r.currency,
    unit: r.unit,
    target: r.target,
    alreadyApplied: r.alreadyApplied,
    refundedElsewhere: r.refundedElsewhere,
    group: r.policyGroup,
    rule: r.rule,
    breakdown: r.breakdown,
    session: r.session,
    charge: r.charge,
    reason: r.reason,
    dueBy: r.dueBy,
    scope: r.scope,
    expiresAt: r.expiresAt,
    visibleBy: r.visibleBy,
  };
}

export async function getRun(db: Db, workspaceId: string, runId: string): Promise<Run> {
  const [run] = await db
    .select()
    .from(compRuns)
    .where(and(eq(compRuns.workspaceId, workspaceId), eq(compRuns.id, runId)));
  if (!run) throw notFound("compensation run", runId);
  return run;
}

export async function listRuns(db: Db, workspaceId: string, incidentId?: string): Promise<Run[]> {
  return db
    .select()
    .from(compRuns)
    .where(
      and(
        eq(compRuns.workspaceId, workspaceId),
        ...(incidentId ? [eq(compRuns.incidentId, incidentId)] : []),
      ),
    )
    .orderBy(asc(compRuns.createdAt), asc(compRuns.id));
}
