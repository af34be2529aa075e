/**
 * Saying when and why an event waits: above the workspace's `sms.confirm_above`, the SMS part of
 * an event waits for a person's go-ahead while its free channels go at once. The API's answers
 * (incident writes, notification events) and the CLI carry this, in the team's words.
 */
import { z } from "zod";
import { formatMoney, type Money } from "../core/money.ts";
import type { Database } from "../storage/database.ts";
import type { OutboxEvent } from "./audience.ts";
import { estimateEvent } from "./notifier.ts";
import { loadNotificationSettings } from "./settings.ts";

export const WaitingOut = z.object({
  event_id: z.string(),
  /** what waits: only the paid SMS */
  channel: z.literal("sms"),
  recipients: z.number().int(),
  segments: z.number().int(),
  cost: z.array(z.object({ amount: z.number().int(), currency: z.string() })),
  reason: z.string(),
  /** the command that sends them */
  confirm: z.string(),
  /** one sentence for people */
  message: z.string(),
});
export type Waiting = z.infer<typeof WaitingOut>;

interface SmsEstimate {
  sms: { messages: number; segments: number; cost: Money[] };
  needsConfirmation: boolean;
}

/** What of this event waits for confirmation, from its estimate; null when nothing does. */
export function waitingOf(eventId: string, estimate: SmsEstimate | null | undefined): Waiting | null {
  if (!estimate?.needsConfirmation) return null;
  const { messages, segments, cost } = estimate.sms;
  const price = cost.map(formatMoney).join(" + ") || "unpriced";
  const confirm = `amends notifications confirm ${eventId}`;
  const n = new Intl.NumberFormat("en");
  return {
    event_id: eventId,
    channel: "sms",
    recipients: messages,
    segments,
    cost,
    reason: "the SMS cost passes the workspace's sms.confirm_above",
    confirm,
    message: `SMS to ${n.format(messages)} recipient${messages === 1 ? "" : "s"} (${n.format(segments)} segment${segments === 1 ? "" : "s"}, ${price}) wait for cost confirmation: ${confirm}. E-mail and the other free channels go now.`,
  };
}

/**
 * Right after an incident write: whether the event it queued will wait for confirmation. Worked
 * out only in workspaces that set a threshold (elsewhere nothing ever waits).
 */
export async function confirmationFor(
  database: Database,
  workspaceId: string,
  idempotencyKey: string,
): Promise<Waiting | null> {
  const { settings } = await loadNotificationSettings(database.db, workspaceId);
  if (!settings.sms.confirm_above) return null;
  const [row] = await database.query<{
    id: string;
    event: string;
    payload: Record<string, unknown>;
    locale: string;
    created_at: Date;
    confirmed_at: Date | null;
  }>(
    `select id, event, payload, locale, created_at, confirmed_at from outbox_messages
      where workspace_id = $1 and idempotency_key = $2`,
    [workspaceId, idempotencyKey],
  );
  if (!row || row.confirmed_at) return null;
  const event: OutboxEvent = {
    workspaceId,
    id: row.id,
    idempotencyKey,
    event: row.event,
    customerId: null,
    channel: null,
    address: null,
    locale: row.locale,
    payload: row.payload,
    createdAt: new Date(row.created_at),
  };
  return waitingOf(row.id, await estimateEvent(database, event, []));
}
