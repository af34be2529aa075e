/**
 * What a delivery of alerts does. Each notification is stored once by its key (a replay changes
 * nothing); each alert's latest word (firing or resolved) is kept per fingerprint; then the
 * integration is judged as a whole: down while any mapped alert fires, recovered after a quiet
 * period (longer while it flaps), by the same step monitors take. So firing, re-firing and
 * resolving alerts keep one incident, and alerts that fire later add their components to it.
 *
 *   delivery ─▶ alert_events (once per key) ─▶ alerts (per fingerprint) ─▶ step ─▶ automatic step
 *   tick (recovering integrations) ─────────────────────────────────────▶ step ─▶ resolve
 */
import { and, eq, isNotNull, sql } from "drizzle-orm";
import { recordAudit } from "../audit/store.ts";
import { type AlertRule, failingComponents, mapAlert, type ReceivedAlert } from "../core/alerts.ts";
import { step } from "../core/monitors.ts";
import { listText } from "../core/wording.ts";
import {
  type AutomationOptions,
  announced,
  onDown,
  onRecovered,
  onSpread,
  startsProtocol,
  startWatcherProtocol,
  type Watcher,
} from "../monitors/automation.ts";
import type { Database } from "../storage/database.ts";
import { alertEvents, alertIntegrations, alerts, components } from "../storage/schema.ts";
import { type AlertIntegration, type FailingComponent, getIntegration } from "./store.ts";

export interface Received {
  /** notifications in the delivery */
  received: number;
  /** of them, heard before (a replay, or the tool repeating itself) */
  duplicates: number;
  /** the integration's state after it */
  state: AlertIntegration["state"];
}

const watcher = (i: AlertIntegration, components: FailingComponent[]): Watcher => ({
  workspaceId: i.workspaceId,
  by: `integration:${i.id}`,
  name: i.name,
  onFailure: i.onFailure,
  protocol: i.protocol,
  components,
  incidentId: i.incidentId,
  setIncident: async (database, incidentId) => {
    await database.db
      .update(alertIntegrations)
      .set({ incidentId })
      .where(and(eq(alertIntegrations.workspaceId, i.workspaceId), eq(alertIntegrations.id, i.id)));
  },
});

/** Stores a delivery's alerts and takes the integration's step; safe to call from any process. */
export async function receiveAlerts(
  database: Database,
  ws: string,
  id: string,
  delivered: readonly ReceivedAlert[],
  o: AutomationOptions,
): Promise<Received> {
  const now = o.now();
  const outcome = await database.transaction(async (tx) => {
    // One delivery at a time per integration: two servers hearing two alerts act in turn.
    const integration = await getIntegration(tx.db, ws, id, true);
    // The workspace's components, read once and only when a new alert needs mapping (not on a replay).
    let known: Promise<Set<string>> | undefined;
    const existing = () =>
      (known ??= tx.db
        .select({ id: components.id })
        .from(components)
        .where(eq(components.workspaceId, ws))
        .then((rows) => new Set(rows.map((c) => c.id))));
    let duplicates = 0;
    for (const a of delivered) {
      const [fresh] = await tx.db
        .insert(alertEvents)
        .values({
          workspaceId: ws,
          integrationId: id,
          eventKey: a.eventKey,
          fingerprint: a.fingerprint,
          status: a.status,
          summary: a.summary,
          labels: a.labels,
          receivedAt: now,
        })
        .onConflictDoNothing()
        .returning({ key: alertEvents.eventKey });
      if (!fresh) {
        duplicates++;
        continue;
      }
      if (a.status === "ignored") continue;
      // Components that do not exist (a city label with no component) are left out, not guessed.
      const mapped = mapAlert(integration.rules as AlertRule[], a.labels, integration.componentStatus);
      const ids = mapped && (await existing());
      const landed = mapped?.filter((c) => ids!.has(c.componentId)) ?? null;
      await tx.db
        .insert(alerts)
        .values({
          workspaceId: ws,
          integrationId: id,
          fingerprint: a.fingerprint,
          status: a.status,
          summary: a.summary,
          labels: a.labels,
          components: landed,
          firstFiredAt: now,
          updatedAt: now,
        })
        .onConflictDoUpdate({
          target: [alerts.workspaceId, alerts.integrationId, alerts.fingerprint],
          set: {
            status: a.status,
            summary: a.summary,
            labels: a.labels,
            components: landed,
            updatedAt: now,
            // An alert that fires again after resolving starts a new episode.
            firstFiredAt: sql`case when ${alerts.status} = 'resolved' and ${a.status} = 'firing' then ${now.toISOString()}::timestamptz else ${alerts.firstFiredAt} end`,
          },
        });
    }
    const step = await judge(tx, integration, o);
    return { duplicates, ...step };
  });
  await afterCommit(database, outcome.integration, outcome.event, o);
  return { received: delivered.length, duplicates: outcome.duplicates, state: outcome.integration.state };
}

/** Judges integrations whose alerts all resolved, so that the quiet period can end. */
export async function judgeRecovering(database: Database, o: AutomationOptions): Promise<number> {
  const due = await database.db
    .select({ ws: alertIntegrations.workspaceId, id: alertIntegrations.id })
    .from(alertIntegrations)
    .where(and(eq(alertIntegrations.state, "down"), isNotNull(alertIntegrations.recoveringSince)));
  let recovered = 0;
  for (const { ws, id } of due) {
    const outcome = await database.transaction(async (tx) =>
      judge(tx, await getIntegration(tx.db, ws, id, true), o),
    );
    await afterCommit(database, outcome.integration, outcome.event, o);
    if (outcome.event === "recovered") recovered++;
  }
  return recovered;
}

async function afterCommit(database: Database, i: AlertIntegration, event: string, o: AutomationOptions) {
  if (event === "down" && startsProtocol(i))
    await startWatcherProtocol(database, watcher(i, i.failingComponents), o);
  if (event !== "none") await announced(database, i.workspaceId);
}

/** The integration's step from its firing alerts, with what it does, in the caller's transaction. */
async function judge(tx: Database, before: AlertIntegration, o: AutomationOptions) {
  const now = o.now();
  if (before.state === "paused") return { integration: before, event: "none" as const };
  const firing = await tx.db
    .select({ summary: alerts.summary, components: alerts.components })
    .from(alerts)
    .where(
      and(
        eq(alerts.workspaceId, before.workspaceId),
        eq(alerts.integrationId, before.id),
        eq(alerts.status, "firing"),
        isNotNull(alerts.components),
      ),
    );
  const failing = failingComponents(firing.map((a) => a.components as unknown as FailingComponent[]));
  const result = step(
    {
      state: before.state,
      recoveringSince: before.recoveringSince?.getTime() ?? null,
      transitions: before.transitions,
    },
    firing.length > 0 ? "down" : "up",
    now.getTime(),
    o.damping,
  );
  const n = result.next;
  const named = new Set(before.failingComponents.map((c) => c.componentId));
  // While down, alerts that fire later add their components; a recovery keeps them for its update.
  const added =
    n.state === "down" && result.event === "none" ? failing.filter((c) => !named.has(c.componentId)) : [];
  const components =
    result.event === "down"
      ? failing
      : result.event === "recovered"
        ? []
        : [...before.failingComponents, ...added];
  const after: AlertIntegration = {
    ...before,
    state: n.state,
    recoveringSince: n.recoveringSince === null ? null : new Date(n.recoveringSince),
    transitions: n.transitions,
    failingComponents: components,
    incidentId: result.event === "recovered" ? null : before.incidentId,
    stateChangedAt: n.state !== before.state ? now : before.stateChangedAt,
  };
  await tx.db
    .update(alertIntegrations)
    .set({
      state: after.state,
      recoveringSince: after.recoveringSince,
      transitions: after.transitions,
      failingComponents: components,
      stateChangedAt: after.stateChangedAt,
    })
    .where(and(eq(alertIntegrations.workspaceId, before.workspaceId), eq(alertIntegrations.id, before.id)));
  const summaries = listText(
    firing.slice(0, 5).map((a) => `"${a.summary}"`),
    "en",
  );
  const audit = (action: string, detail: Record<string, unknown>) =>
    recordAudit(tx.db, {
      workspaceId: before.workspaceId,
      at: now,
      actor: { kind: "integration", id: before.id, name: before.name },
      action: `alert_integration.${action}`,
      target: { type: "alert_integration", id: before.id },
      before: { state: before.state },
      after: { state: after.state, onFailure: before.onFailure, ...detail },
    });
  if (result.event === "down") {
    await audit("down", { firing: firing.length, components: failing.map((c) => c.componentId) });
    if (!startsProtocol(before))
      await onDown(
        tx,
        watcher(before, failing),
        o,
        `${firing.length} alert(s) firing: ${summaries}`,
        `${before.name}: ${firing.length} alert(s) firing: ${summaries}.`,
      );
  } else if (added.length) {
    await audit("spread", { components: added.map((c) => c.componentId) });
    await onSpread(tx, watcher(after, components), added, o, `${before.name}: now firing: ${summaries}.`);
  } else if (result.event === "recovered") {
    await audit("recovered", { components: before.failingComponents.map((c) => c.componentId) });
    await onRecovered(
      tx,
      watcher(before, before.failingComponents),
      o,
      `${before.name}: every alert has resolved and stayed quiet; resolved automatically.`,
    );
  }
  return { integration: after, event: result.event };
}
