/**
 * Compensation runs, one file per step: run-preview.ts (creating a run and its preview, through
 * preview-sql.ts or preview-engine.ts) → approve.ts → apply.ts (booking, and queuing the messages
 * of notices.ts). run-store.ts holds the run's record, shared by all. This file gathers what the
 * rest of Amends imports.
 */
export { approveRun } from "./approve.ts";
export { toldSql } from "./notices.ts";
export { createPreview, type PreviewInput } from "./run-preview.ts";
export { getRun, lineOf, listRuns, type Run, type RunLine } from "./run-store.ts";
