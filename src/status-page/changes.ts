/**
 * How every process hears that a workspace's public page changed: a NOTIFY through the
 * database, on which each server drops its snapshot, so the next request sees the change.
 */
import type { Database } from "../storage/database.ts";

export const CHANGES_CHANNEL = "amends_changes";

export async function announcePageChange(database: Database, workspaceId: string): Promise<void> {
  await database.query("select pg_notify($1, $2)", [CHANGES_CHANNEL, workspaceId]);
}
