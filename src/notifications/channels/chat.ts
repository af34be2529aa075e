/**
 * Team chat through incoming webhooks, where the address is the webhook URL itself: Slack
 * (text + Block Kit), Discord (content + one embed) and Microsoft Teams (an Adaptive Card, the
 * format both Workflows and the older connectors accept). A 404 or 410 means the webhook was
 * deleted: the address is suppressed.
 */
import { describe, field, type HttpReply, request } from "./http.ts";
import { truncate } from "./text.ts";
import { type Channel, type ChannelSender, type OutgoingMessage, PermanentFailure } from "./types.ts";

export interface ChatConfig {
  timeoutMs?: number;
  /** tests and closed networks only: webhook URLs may be private addresses */
  allowPrivateTargets?: boolean;
}

/** Maps a webhook reply to success or the right failure; shared by the three chat providers. */
function check(provider: string, reply: HttpReply): void {
  if (reply.status >= 200 && reply.status < 300) return;
  if (reply.status >= 300 && reply.status < 400) {
    throw new PermanentFailure(`${describe(provider, reply)} (redirects are not followed)`);
  }
  if (reply.status === 404 || reply.status === 410) {
    throw new PermanentFailure(describe(provider, reply), true);
  }
  if (reply.status >= 400 && reply.status < 500 && reply.status !== 408 && reply.status !== 429) {
    throw new PermanentFailure(describe(provider, reply));
  }
  const retryAfter = reply.headers.get("retry-after") ?? field(reply.json, "retry_after");
  throw new Error(`${describe(provider, reply)}${retryAfter ? ` (retry after ${retryAfter} s)` : ""}`);
}

function chatSender(
  channel: Channel,
  config: ChatConfig,
  build: (m: OutgoingMessage) => { url: string; body: unknown },
  messageId: (m: OutgoingMessage, reply: HttpReply) => string | undefined = () => undefined,
): ChannelSender {
  return {
    channel,
    provider: channel,
    allowPrivateTargets: config.allowPrivateTargets,
    async send(message) {
      const { url, body } = build(message);
      const reply = await request(url, {
        json: body,
        timeoutMs: config.timeoutMs,
        allowPrivate: config.allowPrivateTargets,
      });
      check(channel, reply);
      return { provider: channel, providerMessageId: messageId(message, reply) };
    },
  };
}

/** Slack mrkdwn treats &, < and > as control characters. */
const slackEscape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export function slackSender(config: ChatConfig = {}): ChannelSender {
  return chatSender("slack", config, (m) => {
    const link = m.url ? `\n<${m.url}|${slackEscape(m.url)}>` : "";
    // a section's text is limited to 3000 characters; keep room for the heading and the link
    const body = truncate(slackEscape(m.text), 2900 - link.length - m.subject.length);
    return {
      url: m.address,
      body: {
        text: `${slackEscape(m.subject)}${m.url ? ` ${m.url}` : ""}`,
        blocks: [
          { type: "section", text: { type: "mrkdwn", text: `*${slackEscape(m.subject)}*\n${body}${link}` } },
        ],
      },
    };
  });
}

/** Discord: `?wait=true` makes it answer with the created message, so we learn its id. */
export function discordSender(config: ChatConfig = {}): ChannelSender {
  return chatSender(
    "discord",
    config,
    (m) => {
      const url = new URL(m.address);
      url.searchParams.set("wait", "true");
      return {
        url: url.toString(),
        body: {
          content: truncate(m.subject, 2000),
          embeds: [
            {
              title: truncate(m.subject, 256),
              description: truncate(m.text, 4096),
              ...(m.url && { url: m.url }),
            },
          ],
          // never ping @everyone or roles from text we did not write ourselves
          allowed_mentions: { parse: [] },
        },
      };
    },
    (_m, reply) => field(reply.json, "id"),
  );
}

export function teamsSender(config: ChatConfig = {}): ChannelSender {
  return chatSender("teams", config, (m) => ({
    url: m.address,
    body: {
      type: "message",
      attachments: [
        {
          contentType: "application/vnd.microsoft.card.adaptive",
          contentUrl: null,
          content: {
            $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
            type: "AdaptiveCard",
            version: "1.4",
            body: [
              { type: "TextBlock", text: m.subject, weight: "Bolder", size: "Medium", wrap: true },
              { type: "TextBlock", text: truncate(m.text, 20_000), wrap: true },
            ],
            ...(m.url && { actions: [{ type: "Action.OpenUrl", title: m.url, url: m.url }] }),
          },
        },
      ],
    },
  }));
}
