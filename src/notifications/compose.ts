/**
 * How one recipient's message is put together, shared by the sender (deliver.ts) and the cost
 * estimate (notifier.ts), so that the SMS priced before a send is the SMS sent: the same links
 * (the page, the recipient's own signed unsubscribe link) and the same text on the channel.
 */
import { signLink, signShortLink } from "./links.ts";
import type { RenderContext, Rendered } from "./templates.ts";

/** Channels without a subject line carry it as the message's first line. */
const SUBJECTLESS = new Set(["sms", "telegram", "mastodon", "bluesky"]);

/** The text a channel carries: for SMS, exactly what the provider is given (and what it bills). */
export const channelText = (channel: string, rendered: Pick<Rendered, "subject" | "text">) =>
  SUBJECTLESS.has(channel) ? `${rendered.subject}\n\n${rendered.text}` : rendered.text;

export interface Recipient {
  recipient: string;
  channel: string;
  address: string;
}

export interface Sender {
  workspaceId: string;
  company: string;
  timeZone: string;
  fallbackLocale: string;
  /** the settings' public_url, else the workspace's */
  publicUrl: string | null | undefined;
  linkSecret: string;
}

/** A recipient's signed unsubscribe token, also what opens their management page. */
export const unsubscribeToken = (linkSecret: string, workspaceId: string, to: Recipient) =>
  signLink(linkSecret, {
    purpose: "unsubscribe",
    workspaceId,
    recipient: to.recipient,
    channel: to.channel,
    address: to.address,
  });

/** The render context of one recipient's message: the event's page and their unsubscribe link. */
export function recipientContext(
  from: Sender,
  payload: Record<string, unknown>,
  to: Recipient,
): RenderContext {
  const base = (from.publicUrl ?? "").replace(/\/$/, "");
  const incident = payload.incident_id as string | undefined;
  return {
    company: from.company,
    timeZone: from.timeZone,
    fallbackLocale: from.fallbackLocale,
    url: base
      ? typeof payload.page_path === "string"
        ? `${base}${payload.page_path}`
        : incident
          ? `${base}/incidents/${encodeURIComponent(incident)}`
          : `${base}/`
      : undefined,
    // A webhook's body is the event's data, with no text to carry a link: none is signed for it.
    unsubscribeUrl:
      base &&
      to.channel !== "webhook" &&
      !to.recipient.startsWith("team:") &&
      !to.recipient.startsWith("social:")
        ? to.channel === "sms"
          ? `${base}/u/${signShortLink(from.linkSecret, { workspaceId: from.workspaceId, ...to })}`
          : `${base}/unsubscribe?t=${unsubscribeToken(from.linkSecret, from.workspaceId, to)}`
        : undefined,
  };
}
