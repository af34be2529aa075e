/**
 * A workspace's notification settings, stored as JSON on the workspace and validated here:
 * who beyond subscribers hears about incidents, what SMS costs and when a person must confirm.
 */
import { eq } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../storage/database.ts";
import { workspaces } from "../storage/schema.ts";
import { CHANNELS } from "./channels/types.ts";

const Price = z.strictObject({
  price: z.string().regex(/^\d+(\.\d+)?$/, 'a decimal in major units, e.g. "0.0725"'),
  currency: z.string().regex(/^[A-Z]{3}$/),
});

export const NotificationSettings = z.strictObject({
  /** tell customers whose region or open session touches the failed components, subscribed or not */
  notify_affected_customers: z.boolean().default(false),
  /**
   * what each plan depends on: customers on a plan whose components fail are affected too
   * (an ISP's business plan on its API, a charging app's roaming plan on partner networks)
   */
  plan_components: z.record(z.string().min(1).max(64), z.array(z.string().min(1)).max(1000)).default({}),
  /** the internal team: told about every incident and about overdue updates */
  team: z
    .array(
      z.strictObject({
        channel: z.enum(CHANNELS),
        address: z.string().min(1).max(2048),
        locale: z.string().min(2).max(35).default("en"),
      }),
    )
    .max(100)
    .default([]),
  /** the language used when a recipient's is not shipped */
  fallback_locale: z.string().min(2).max(35).default("en"),
  sms: z
    .strictObject({
      /** paid add-on: SMS only to recipients with the entitlement flag */
      entitlement_required: z.boolean().default(false),
      /** price of one segment by ISO country code, and "default" */
      prices: z.record(z.string().regex(/^([A-Z]{2}|default)$/), Price).default({}),
      /** a send whose SMS cost passes this waits for a person to confirm it */
      confirm_above: z
        .strictObject({ amount: z.number().int().min(0), currency: z.string().regex(/^[A-Z]{3}$/) })
        .optional(),
      /** ISO countries SMS may go to (anti SMS pumping); empty = any */
      allowed_countries: z.array(z.string().regex(/^[A-Z]{2}$/)).default([]),
      /** a customer told by SMS is told on their first free channel (e-mail…) too */
      also_email: z.boolean().default(true),
      /** members of the public may subscribe by SMS (the page's form offers it; each costs money) */
      subscriptions: z.boolean().default(false),
    })
    .default({
      entitlement_required: false,
      prices: {},
      allowed_countries: [],
      also_email: true,
      subscriptions: false,
    }),
  /** "I am affected" reports on a component with no open incident alert the team past this many in the window */
  reports: z
    .strictObject({
      threshold: z.number().int().min(1).max(100_000).default(5),
      window_minutes: z.number().int().min(1).max(1_440).default(15),
    })
    .default({ threshold: 5, window_minutes: 15 }),
  /** base of links in messages (status page, unsubscribe); the workspace's public URL when absent */
  public_url: z.string().url().optional(),
});
export type NotificationSettings = z.infer<typeof NotificationSettings>;

/** Whether the page's form offers SMS (read from the stored settings, which may predate the flag). */
export const offersSmsSubscriptions = (stored: unknown): boolean =>
  (stored as { sms?: { subscriptions?: unknown } } | null)?.sms?.subscriptions === true;

export async function loadNotificationSettings(
  db: Db,
  workspaceId: string,
): Promise<{
  settings: NotificationSettings;
  linkSecret: string;
  name: string;
  publicUrl: string | null;
  timeZone: string;
}> {
  const [ws] = await db
    .select({
      timeZone: workspaces.timeZone,
      settings: workspaces.notificationSettings,
      linkSecret: workspaces.linkSecret,
      name: workspaces.name,
      publicUrl: workspaces.publicUrl,
    })
    .from(workspaces)
    .where(eq(workspaces.id, workspaceId));
  if (!ws) throw new Error(`no workspace ${workspaceId}`);
  return { ...ws, settings: NotificationSettings.parse(ws.settings ?? {}) };
}

export async function saveNotificationSettings(db: Db, workspaceId: string, settings: NotificationSettings) {
  await db.update(workspaces).set({ notificationSettings: settings }).where(eq(workspaces.id, workspaceId));
}
