/** Addresses never to send to again: hard bounces, complaints, unreachable numbers, unsubscribed customers. */
import type { Database } from "../storage/database.ts";

export async function suppressAddress(
  database: Database,
  workspaceId: string,
  channel: string,
  address: string,
  reason: string,
  now: Date,
) {
  await database.query(
    `insert into suppressions (workspace_id, channel, address, reason, created_at) values ($1, $2, $3, $4, $5)
     on conflict do nothing`,
    [workspaceId, channel, address, reason.slice(0, 200), now.toISOString()],
  );
}
