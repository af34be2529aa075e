/**
 * Honest timing: when an open incident's promised next update is missed, the team gets one
 * reminder per missed promise (queued in the outbox for the notifications worker). Safe to run
 * from every process at once: the idempotency key names the incident and the promise.
 */
import type { Database } from "../storage/database.ts";

export async function queueOverdueReminders(database: Database, now: Date): Promise<number> {
  const rows = await database.query<{ n: number }>(
    `with inserted as (
       insert into outbox_messages (workspace_id, id, idempotency_key, event, incident_id, customer_id, channel, address, locale, template, payload, status, created_at)
       select workspace_id, 'msg_' || replace(gen_random_uuid()::text, '-', ''),
              'incident:' || id || ':update_overdue:' || (extract(epoch from next_update_by) * 1000)::bigint,
              'incident.update_overdue', id, null, 'team', null, 'en', 'update-overdue',
              jsonb_build_object('incident_id', id, 'title', title, 'next_update_by', next_update_by, 'status', status),
              'pending', $1
       from incidents
       where resolved_at is null and next_update_by is not null and next_update_by < $1
       on conflict (workspace_id, idempotency_key) do nothing
       returning 1
     ) select count(*)::int as n from inserted`,
    [now.toISOString()],
  );
  return rows[0]?.n ?? 0;
}

/** Runs `task` every `everyMs` (with jitter, so many processes do not fire together) until stopped. */
export function every(everyMs: number, task: () => Promise<unknown>): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const tick = () => {
    timer = setTimeout(
      () => {
        task()
          .catch(() => {})
          .finally(() => {
            if (!stopped) tick();
          });
      },
      everyMs * (0.8 + Math.random() * 0.4),
    );
    timer.unref();
  };
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
