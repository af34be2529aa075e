/**
 * What every delivery channel implements. A sender turns one rendered message into one call to
 * one provider. It throws `PermanentFailure` when retrying cannot help (a hard bounce, an invalid
 * number, a webhook that answers 410): the address is then suppressed or the message fails over
 * to the recipient's next channel. Any other error is transient and the message is retried later
 * with the same idempotency key. A provider with a batch API also offers `sendBatch`: many
 * messages in one call, with one outcome per message in the same terms.
 */

export const CHANNELS = [
  "email",
  "sms",
  "web_push",
  "webhook",
  "slack",
  "teams",
  "discord",
  "telegram",
  "mastodon",
  "bluesky",
] as const;
export type Channel = (typeof CHANNELS)[number];

export interface OutgoingMessage {
  /** `event:recipient:channel`; the same on every retry, passed to providers that accept one. */
  idempotencyKey: string;
  channel: Channel;
  /** e-mail address, E.164 phone number, URL (webhook, chat, push endpoint), chat id, or "" for social posts */
  address: string;
  locale: string;
  /** e.g. incident.opened, compensation.granted */
  event: string;
  /** a short subject line (email subject, push title, chat heading) */
  subject: string;
  /** the plain-text body; for SMS and social posts, the whole message */
  text: string;
  /** an HTML body for email */
  html?: string;
  /** the page the message is about (incident page, status page) */
  url?: string;
  /** signed link that unsubscribes the recipient without logging in (RFC 8058 for email) */
  unsubscribeUrl?: string;
  /** the event's data as JSON, for machine channels (webhooks) */
  data?: Record<string, unknown>;
  /** channel-specific secrets of the recipient: a webhook's signing secret, a push subscription's keys */
  secrets?: Record<string, string>;
}

export interface SendResult {
  /** which provider took the message, e.g. "smtp", "twilio", "http-sms" */
  provider: string;
  /** the provider's id for the message, for receipts and bounces */
  providerMessageId?: string;
}

export interface ChannelSender {
  readonly channel: Channel;
  /** the provider's name, used for rate limits, failover and receipts */
  readonly provider: string;
  /** web push: the VAPID public key browsers subscribe with */
  readonly applicationServerKey?: string;
  /** URL channels, in tests only: subscribers' addresses may be private (loopback fakes) */
  readonly allowPrivateTargets?: boolean;
  send(message: OutgoingMessage): Promise<SendResult>;
  /** at most this many messages per `sendBatch` call (the provider's batch limit) */
  readonly maxBatch?: number;
  /**
   * Up to `maxBatch` messages in one provider call. Resolves with one outcome per message, in
   * order: what the provider took, or the error `send` would have thrown for it
   * (`PermanentFailure` or a transient error). Rejects only when nothing can be said per message.
   */
  sendBatch?(messages: OutgoingMessage[]): Promise<BatchOutcome[]>;
  close?(): Promise<void>;
}

/** One message's outcome in a batch. */
export type BatchOutcome = SendResult | Error;

/** `send` for a provider whose API is its batch endpoint: a batch of one. */
export const sendAsBatch =
  (sendBatch: (messages: OutgoingMessage[]) => Promise<BatchOutcome[]>) =>
  async (message: OutgoingMessage): Promise<SendResult> => {
    const [result] = await sendBatch([message]);
    if (result instanceof Error) throw result;
    return result!;
  };

/** Retrying cannot help: suppress the address (hard bounce) or fail over to another channel. */
export class PermanentFailure extends Error {
  constructor(
    message: string,
    /** true when the address itself is bad and must never be tried again (hard bounce, unknown number) */
    readonly suppress = false,
  ) {
    super(message);
    this.name = "PermanentFailure";
  }
}
