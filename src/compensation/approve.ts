/** Approval: a previewed run becomes approved, the step apply.ts waits for. */
import { and, eq } from "drizzle-orm";
import { conflict, notFound } from "../core/errors.ts";
import type { Db } from "../storage/database.ts";
import { compRuns } from "../storage/schema.ts";
import type { Run } from "./run-store.ts";

export async function approveRun(
  db: Db,
  workspaceId: string,
  runId: string,
  actor: string | null,
  now: Date,
): Promise<Run> {
  return db.transaction(async (tx) => {
    const [run] = await tx
      .select()
      .from(compRuns)
      .where(and(eq(compRuns.workspaceId, workspaceId), eq(compRuns.id, runId)))
      .for("update");
    if (!run) throw notFound("compensation run", runId);
    if (run.status === "approved" || run.status === "applied") return run;
    if (run.status !== "previewed") throw conflict(`run "${runId}" is ${run.status}, not previewed`);
    const [updated] = await tx
      .update(compRuns)
      .set({ status: "approved", approvedAt: now, approvedBy: actor })
      .where(and(eq(compRuns.workspaceId, workspaceId), eq(compRuns.id, runId)))
      .returning();
    return updated!;
  });
}
