/**
 * Alert integrations and what they received. The sender's bearer token is kept as its
 * sha256 only and shown once, at creation or rotation.
 */
import { createHash, randomBytes } from "node:crypto";
import { and, asc, desc, eq } from "drizzle-orm";
import { requireComponents } from "../components/store.ts";
import type { AlertRule, AlertTool } from "../core/alerts.ts";
import type { ComponentStatus } from "../core/components.ts";
import { notFound } from "../core/errors.ts";
import type { MonitorState, OnFailure } from "../core/monitors.ts";
import { newId } from "../lib/ids.ts";
import { requireProtocol } from "../protocols/store.ts";
import type { Db } from "../storage/database.ts";
import { alertEvents, alertIntegrations, alerts } from "../storage/schema.ts";

export type FailingComponent = { componentId: string; status: ComponentStatus };

export interface AlertIntegration {
  workspaceId: string;
  id: string;
  name: string;
  tool: AlertTool;
  hasSigningSecret: boolean;
  rules: AlertRule[];
  componentStatus: ComponentStatus;
  onFailure: OnFailure;
  protocol: string | null;
  state: MonitorState;
  stateChangedAt: Date | null;
  recoveringSince: Date | null;
  transitions: number[];
  incidentId: string | null;
  failingComponents: FailingComponent[];
  createdAt: Date;
  updatedAt: Date;
}

type Row = typeof alertIntegrations.$inferSelect;

const toIntegration = ({ tokenHash: _, signingSecret, ...r }: Row): AlertIntegration => ({
  ...r,
  tool: r.tool as AlertTool,
  hasSigningSecret: Boolean(signingSecret),
  rules: r.rules as unknown as AlertRule[],
  componentStatus: r.componentStatus as ComponentStatus,
  onFailure: r.onFailure as OnFailure,
  state: r.state as MonitorState,
  failingComponents: r.failingComponents as unknown as FailingComponent[],
});

export interface IntegrationInput {
  name: string;
  tool: AlertTool;
  rules: AlertRule[];
  componentStatus: ComponentStatus;
  onFailure: OnFailure;
  protocol?: string | null;
  signingSecret?: string | null;
  paused?: boolean;
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
const newToken = () => `ama_${randomBytes(32).toString("base64url")}`;

/** Rules name components that exist (a `{label}` placeholder is checked when an alert arrives). */
async function checkReferences(db: Db, ws: string, input: Partial<IntegrationInput>) {
  for (const [i, rule] of (input.rules ?? []).entries()) {
    const fixed = rule.components.map((c, j) => [c, j] as const).filter(([c]) => !c.includes("{"));
    await requireComponents(
      db,
      ws,
      fixed.map(([c]) => c),
      (k) => `rules.${i}.components.${fixed[k]![1]}`,
    );
  }
  if (input.protocol) await requireProtocol(db, ws, input.protocol);
}

export async function createIntegration(
  db: Db,
  ws: string,
  input: IntegrationInput,
  now: Date,
): Promise<{ integration: AlertIntegration; token: string }> {
  return db.transaction(async (tx) => {
    await checkReferences(tx, ws, input);
    const token = newToken();
    const [row] = await tx
      .insert(alertIntegrations)
      .values({
        workspaceId: ws,
        id: newId("alr"),
        name: input.name,
        tool: input.tool,
        tokenHash: sha256(token),
        signingSecret: input.signingSecret ?? null,
        rules: input.rules as unknown as Record<string, unknown>[],
        componentStatus: input.componentStatus,
        onFailure: input.onFailure,
        protocol: input.protocol ?? null,
        state: input.paused ? "paused" : "pending",
        createdAt: now,
        updatedAt: now,
      })
      .returning();
    return { integration: toIntegration(row!), token };
  });
}

export async function getIntegration(
  db: Db,
  ws: string,
  id: string,
  lock = false,
): Promise<AlertIntegration> {
  const q = db
    .select()
    .from(alertIntegrations)
    .where(and(eq(alertIntegrations.workspaceId, ws), eq(alertIntegrations.id, id)));
  const [row] = lock ? await q.for("update") : await q;
  if (!row) throw notFound("alert integration", id);
  return toIntegration(row);
}

export async function listIntegrations(db: Db, ws: string): Promise<AlertIntegration[]> {
  const rows = await db
    .select()
    .from(alertIntegrations)
    .where(eq(alertIntegrations.workspaceId, ws))
    .orderBy(asc(alertIntegrations.createdAt), asc(alertIntegrations.id));
  return rows.map(toIntegration);
}

export async function updateIntegration(
  db: Db,
  ws: string,
  id: string,
  patch: Partial<Omit<IntegrationInput, "tool">>,
  now: Date,
): Promise<AlertIntegration> {
  return db.transaction(async (tx) => {
    const before = await getIntegration(tx, ws, id, true);
    await checkReferences(tx, ws, patch);
    const { paused, rules, ...fields } = patch;
    const state =
      paused === true ? "paused" : paused === false && before.state === "paused" ? "pending" : undefined;
    const [row] = await tx
      .update(alertIntegrations)
      .set({
        ...fields,
        ...(rules && { rules: rules as unknown as Record<string, unknown>[] }),
        ...(state && { state, stateChangedAt: now, recoveringSince: null }),
        updatedAt: now,
      })
      .where(and(eq(alertIntegrations.workspaceId, ws), eq(alertIntegrations.id, id)))
      .returning();
    return toIntegration(row!);
  });
}

/** A new token; the old one stops working at once. */
export async function rotateToken(db: Db, ws: string, id: string, now: Date): Promise<string> {
  await getIntegration(db, ws, id);
  const token = newToken();
  await db
    .update(alertIntegrations)
    .set({ tokenHash: sha256(token), updatedAt: now })
    .where(and(eq(alertIntegrations.workspaceId, ws), eq(alertIntegrations.id, id)));
  return token;
}

export async function deleteIntegration(db: Db, ws: string, id: string): Promise<void> {
  await db.transaction(async (tx) => {
    await getIntegration(tx, ws, id, true);
    await tx
      .delete(alertEvents)
      .where(and(eq(alertEvents.workspaceId, ws), eq(alertEvents.integrationId, id)));
    await tx.delete(alerts).where(and(eq(alerts.workspaceId, ws), eq(alerts.integrationId, id)));
    await tx
      .delete(alertIntegrations)
      .where(and(eq(alertIntegrations.workspaceId, ws), eq(alertIntegrations.id, id)));
  });
}

/** The integration a delivery is addressed to, with what proves the sender: token hash and secret. */
export async function findForDelivery(
  db: Db,
  id: string,
): Promise<{ integration: AlertIntegration; tokenHash: string; signingSecret: string | null } | undefined> {
  const [row] = await db.select().from(alertIntegrations).where(eq(alertIntegrations.id, id));
  return (
    row && { integration: toIntegration(row), tokenHash: row.tokenHash, signingSecret: row.signingSecret }
  );
}

export const tokenHash = sha256;

export type AlertRow = typeof alerts.$inferSelect;
export type AlertEventRow = typeof alertEvents.$inferSelect;

/** The integration's alerts, firing first, and its latest deliveries. */
export async function receivedAlerts(db: Db, ws: string, id: string, limit: number) {
  const [current, events] = await Promise.all([
    db
      .select()
      .from(alerts)
      .where(and(eq(alerts.workspaceId, ws), eq(alerts.integrationId, id)))
      .orderBy(asc(alerts.status), desc(alerts.updatedAt))
      .limit(limit),
    db
      .select()
      .from(alertEvents)
      .where(and(eq(alertEvents.workspaceId, ws), eq(alertEvents.integrationId, id)))
      .orderBy(desc(alertEvents.receivedAt))
      .limit(limit),
  ]);
  return { current, events };
}
