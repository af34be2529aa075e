/**
 * Emergency protocols: an incident and everything said about it, prepared in calm times
 * (title and text per language, affected components, a social post, a support message with
 * an extra support channel), started in one action by a person or by a monitor.
 *
 * Starting one opens the incident through the incidents store, so the page, the feeds and the
 * outbox follow in the same transaction: subscribers, affected customers, the team and the
 * social accounts are all reached by the one `incident.opened` event. The SMS cost is worked
 * out first (a dry run shows it; above the workspace's threshold the event waits for a
 * confirmation as any other). Starting again while its incident is open returns that incident.
 */
import { and, eq } from "drizzle-orm";
import type { ComponentStatus } from "../core/components.ts";
import { notFound, unknownReference } from "../core/errors.ts";
import type { Impact, Incident } from "../core/incidents.ts";
import { createIncident, getIncident } from "../incidents/store.ts";
import { newId } from "../lib/ids.ts";
import { estimateEvent } from "../notifications/notifier.ts";
import type { Database, Db } from "../storage/database.ts";
import { protocols } from "../storage/schema.ts";

export interface SupportChannel {
  kind: "callback" | "chat" | "phone" | "email" | "url";
  url: string;
  label?: string;
}

export interface ProtocolTemplate {
  title: string;
  body: string;
  /** by locale: the title and text in other languages */
  translations?: Record<string, { title?: string; body?: string }>;
  components: { id: string; status: ComponentStatus }[];
  impact?: Impact;
  /** who is told (all by default); within each, the workspace's notification settings decide */
  channels?: ("subscribers" | "customers" | "team" | "social")[];
  /** the public post on the company's social accounts; the incident's title and text when absent */
  social?: string;
  /** what support says, and the extra channel it opens (a callback form, a chat) */
  support?: { text: string; translations?: Record<string, string>; channel: SupportChannel };
  /** promise the next update this many minutes after the start */
  nextUpdateMinutes?: number;
  /** expect the fix this many minutes after the start (the start may name its own ETA instead) */
  etaMinutes?: number;
}

export interface Protocol {
  name: string;
  template: ProtocolTemplate;
  incidentId: string | null;
  createdAt: Date;
  updatedAt: Date;
}

const toProtocol = (r: typeof protocols.$inferSelect): Protocol => ({
  name: r.name,
  template: r.template as unknown as ProtocolTemplate,
  incidentId: r.incidentId,
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
});

export async function listProtocols(db: Db, ws: string): Promise<Protocol[]> {
  const rows = await db.select().from(protocols).where(eq(protocols.workspaceId, ws)).orderBy(protocols.name);
  return rows.map(toProtocol);
}

export async function getProtocol(db: Db, ws: string, name: string, lock = false): Promise<Protocol> {
  const q = db
    .select()
    .from(protocols)
    .where(and(eq(protocols.workspaceId, ws), eq(protocols.name, name)));
  const [row] = lock ? await q.for("update") : await q;
  if (!row) throw notFound("protocol", name);
  return toProtocol(row);
}

/** A reference to a protocol (a monitor's, an integration's) names one that exists. */
export async function requireProtocol(db: Db, ws: string, name: string, field = "protocol"): Promise<void> {
  const [p] = await db
    .select({ name: protocols.name })
    .from(protocols)
    .where(and(eq(protocols.workspaceId, ws), eq(protocols.name, name)));
  if (!p) throw unknownReference(field, "protocol", name);
}

export async function putProtocol(
  db: Db,
  ws: string,
  name: string,
  template: ProtocolTemplate,
  now: Date,
): Promise<{ protocol: Protocol; created: boolean }> {
  const [existing] = await db
    .select({ name: protocols.name })
    .from(protocols)
    .where(and(eq(protocols.workspaceId, ws), eq(protocols.name, name)));
  const [row] = await db
    .insert(protocols)
    .values({
      workspaceId: ws,
      name,
      template: template as unknown as Record<string, unknown>,
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoUpdate({
      target: [protocols.workspaceId, protocols.name],
      set: { template: template as unknown as Record<string, unknown>, updatedAt: now },
    })
    .returning();
  return { protocol: toProtocol(row!), created: !existing };
}

/** The support line appended to the text, in one language. */
const supportLine = (t: ProtocolTemplate, locale?: string) => {
  if (!t.support) return "";
  const text = (locale && t.support.translations?.[locale]) || t.support.text;
  const c = t.support.channel;
  return `\n\n${text} ${c.label ? `${c.label}: ` : ""}${c.url}`;
};

/** What the incident will say: title and text per language, with the support line. */
export function incidentText(t: ProtocolTemplate) {
  const titleTranslations: Record<string, string> = {};
  const bodyTranslations: Record<string, string> = {};
  for (const [locale, v] of Object.entries(t.translations ?? {})) {
    if (v.title) titleTranslations[locale] = v.title;
    if (v.body) bodyTranslations[locale] = v.body + supportLine(t, locale);
  }
  return { title: t.title, titleTranslations, body: t.body + supportLine(t), bodyTranslations };
}

export interface StartResult {
  incident: Incident | null;
  /** recipients per channel and the SMS cost, before anything is sent */
  estimate: Awaited<ReturnType<typeof estimateEvent>>;
  /** true when the protocol's incident was already open and is returned as it is */
  alreadyOpen: boolean;
  dryRun: boolean;
}

export async function startProtocol(
  database: Database,
  ws: string,
  name: string,
  options: { dryRun?: boolean; by: string; now: Date; social: string[]; eta?: Date },
): Promise<StartResult> {
  const { now } = options;
  const protocol = await getProtocol(database.db, ws, name);
  const t = protocol.template;
  const text = incidentText(t);
  const eta = options.eta ?? (t.etaMinutes ? new Date(now.getTime() + t.etaMinutes * 60_000) : null);
  const estimate = await estimateEvent(
    database,
    {
      workspaceId: ws,
      id: "estimate",
      idempotencyKey: "estimate",
      event: "incident.opened",
      customerId: null,
      channel: null,
      address: null,
      locale: "en",
      // The payload the incident's event will carry, so the SMS priced are the SMS sent: its texts
      // in every language, its promise of a next update, and an incident id as long as the real one.
      payload: {
        incident_id: newId("inc"),
        title: text.title,
        title_translations: text.titleTranslations,
        body: text.body,
        body_translations: text.bodyTranslations,
        status: "investigating",
        components: t.components.map((c) => c.id),
        impact: t.impact ?? "major",
        started_at: now.toISOString(),
        eta: eta?.toISOString() ?? null,
        next_update_by: t.nextUpdateMinutes
          ? new Date(now.getTime() + t.nextUpdateMinutes * 60_000).toISOString()
          : null,
        protocol: name,
        ...(t.social && { social_post: t.social }),
        ...(t.support && { support_channel: t.support.channel }),
        ...(t.channels && { channels: t.channels }),
      },
      createdAt: now,
    },
    options.social,
  );
  if (options.dryRun) return { incident: null, estimate, alreadyOpen: false, dryRun: true };
  return database.transaction(async (tx) => {
    // The row lock makes two starts at once open one incident.
    const locked = await getProtocol(tx.db, ws, name, true);
    if (locked.incidentId) {
      const open = await getIncident(tx.db, ws, locked.incidentId).catch(() => undefined);
      if (open && open.status !== "resolved")
        return { incident: open, estimate, alreadyOpen: true, dryRun: false };
    }
    const incident = await createIncident(
      tx.db,
      ws,
      {
        title: text.title,
        titleTranslations: text.titleTranslations,
        impact: t.impact,
        update: {
          body: text.body,
          bodyTranslations: text.bodyTranslations,
          components: t.components.map((c) => ({ componentId: c.id, status: c.status })),
          eta,
          nextUpdateBy: t.nextUpdateMinutes ? new Date(now.getTime() + t.nextUpdateMinutes * 60_000) : null,
          createdBy: options.by,
        },
      },
      now,
    );
    // The outbox event written with the incident carries the protocol's own social post and support channel.
    await tx.query(
      `update outbox_messages set payload = payload || $3::jsonb
        where workspace_id = $1 and incident_id = $2 and event = 'incident.opened'`,
      [
        ws,
        incident.id,
        JSON.stringify({
          protocol: name,
          ...(t.social && { social_post: t.social }),
          ...(t.support && { support_channel: t.support.channel }),
          ...(t.channels && { channels: t.channels }),
        }),
      ],
    );
    await tx.db
      .update(protocols)
      .set({ incidentId: incident.id })
      .where(and(eq(protocols.workspaceId, ws), eq(protocols.name, name)));
    return { incident, estimate, alreadyOpen: false, dryRun: false };
  });
}
