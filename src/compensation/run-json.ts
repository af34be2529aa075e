/** A compensation run as the API, the report and the post-incident report show it. */
import { iso } from "../http/zod.ts";
import type { Run } from "./runs.ts";

export const RUN_STATUSES = ["previewing", "previewed", "approved", "applied"] as const;

export const runJson = (r: Run) => ({
  id: r.id,
  incident_id: r.incidentId,
  policy: { id: r.policyId, version: r.policyVersion },
  status: r.status as (typeof RUN_STATUSES)[number],
  as_of: iso(r.asOf)!,
  window: { start: iso(r.windowStart)!, end: iso(r.windowEnd)! },
  summary: r.summary,
  preview_hash: r.previewHash,
  created_at: iso(r.createdAt)!,
  created_by: r.createdBy,
  approved_at: iso(r.approvedAt),
  approved_by: r.approvedBy,
  applied_at: iso(r.appliedAt),
  applied: r.appliedSummary ?? null,
});
