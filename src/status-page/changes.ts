/**
 * How every process hears that a workspace's public page changed: a NOTIFY through the
 * database, on which each server drops its snapshot, so the next request sees the change.
 * A server's own announcements carry a tag, `<origin>:<sequence>`: they come back to it too,
 * and it tells them apart (it dropped its snapshot already, and a write waits for the echo).
 */
import type { Database } from "../storage/database.ts";

export const CHANGES_CHANNEL = "amends_changes";

export async function announcePageChange(
  database: Database,
  workspaceId: string,
  tag?: string,
): Promise<void> {
  await database.query("select pg_notify($1, $2)", [
    CHANGES_CHANNEL,
    tag ? `${workspaceId}\n${tag}` : workspaceId,
  ]);
}

/** A NOTIFY's payload: the workspace ("" after a lost LISTEN: any of them) and its tag, if any. */
export function parseChange(payload: string): { workspaceId: string; tag?: string } {
  const [workspaceId = "", tag] = payload.split("\n");
  return { workspaceId, tag };
}
