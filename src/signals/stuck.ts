/**
 * Customers who get stuck while an incident is open: an attempt of theirs on one of its
 * components fails after its latest update went out, so no message has reached them. Each is
 * told the incident's current state once, on their first channel, in their language, as the
 * customers it touched at the start were; its later updates reach them as affected customers.
 */
import { listComponents } from "../components/store.ts";
import { subtreesOf } from "../core/components.ts";
import { listIncidents } from "../incidents/store.ts";
import { newId } from "../lib/ids.ts";
import { OUTBOX_CHANNEL } from "../notifications/notifier.ts";
import type { Database } from "../storage/database.ts";
import type { UsageEventInput } from "./store.ts";

export async function tellNewlyStuck(
  database: Database,
  ws: string,
  fresh: readonly UsageEventInput[],
  now: Date,
): Promise<number> {
  const failed = fresh.filter((e) => e.type === "session_failed" && e.componentId);
  if (failed.length === 0) return 0;
  const open = await listIncidents(database.db, ws, { state: "open", limit: 100 });
  if (open.length === 0) return 0;
  const tree = await listComponents(database.db, ws);
  let told = 0;
  for (const incident of open) {
    const latest = incident.updates.at(-1)!;
    const parts = subtreesOf(
      tree,
      incident.components.map((c) => c.componentId),
    );
    // Earlier failures are in the latest update's own audience (affected customers, notifications/audience.ts).
    const customers = new Set(
      failed
        .filter((e) => parts.has(e.componentId!) && e.at.getTime() >= latest.createdAt.getTime())
        .map((e) => e.customerId),
    );
    if (customers.size === 0) continue;
    const rows = await database.query<{ id: string; channel: string; address: string; locale: string }>(
      `select c.id, c.channels->0->>'type' as channel, c.channels->0->>'address' as address, c.locale
         from customers c
        where c.workspace_id = $1 and c.id = any($2::text[]) and jsonb_array_length(c.channels) > 0
          and not exists (select 1 from deliveries d join outbox_messages o
                                 on o.workspace_id = d.workspace_id and o.id = d.event_id
                           where d.workspace_id = $1 and o.incident_id = $3 and d.recipient = 'customer:' || c.id)`,
      [ws, [...customers], incident.id],
    );
    for (const c of rows) {
      const inserted = await database.query(
        `insert into outbox_messages (workspace_id, id, idempotency_key, event, incident_id, customer_id, channel,
                                      address, locale, template, payload, status, created_at)
         values ($1, $2, $3, 'incident.affected', $4, $5, $6, $7, $8, 'incident.affected', $9::jsonb, 'pending', $10)
         on conflict (workspace_id, idempotency_key) do nothing returning 1`,
        [
          ws,
          newId("msg"),
          `incident:${incident.id}:stuck:${c.id}`,
          incident.id,
          c.id,
          c.channel,
          c.address,
          c.locale,
          JSON.stringify({
            incident_id: incident.id,
            update_id: latest.id,
            title: incident.title,
            title_translations: incident.titleTranslations,
            body: latest.body,
            body_translations: latest.bodyTranslations,
            status: latest.status,
            eta: latest.eta?.toISOString() ?? null,
            next_update_by: latest.nextUpdateBy?.toISOString() ?? null,
          }),
          now.toISOString(),
        ],
      );
      told += inserted.length;
    }
  }
  if (told) await database.query("select pg_notify($1, $2)", [OUTBOX_CHANNEL, ws]).catch(() => {});
  return told;
}
