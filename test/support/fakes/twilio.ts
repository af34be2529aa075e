/**
 * Twilio's Messages API as it looks on the wire: POST /2010-04-01/Accounts/{sid}/Messages.json,
 * HTTP Basic (account SID + auth token), form-encoded To/From/Body, 201 with a Message resource,
 * errors as {code, message, more_info, status}. Numbers can be scripted as invalid or
 * unsubscribed; outages (500, 429, timeouts) come from FakeHttpServer.fail().
 */
import { randomBytes } from "node:crypto";
import { FakeHttpServer, type Recorded, type Reply } from "./server.ts";

export interface TwilioMessage {
  sid: string;
  to: string;
  from: string;
  body: string;
  statusCallback?: string;
}

const ERRORS: Record<number, [number, string]> = {
  401: [20003, "Authenticate"],
  404: [20404, "The requested resource was not found"],
  429: [20429, "Too Many Requests"],
  500: [20500, "Internal Server Error"],
  503: [20503, "Service Unavailable"],
};

export class TwilioFake extends FakeHttpServer {
  readonly messages: TwilioMessage[] = [];
  /** numbers Twilio reports as 21211 (invalid) */
  readonly invalidNumbers = new Set<string>();
  /** numbers that replied STOP: 21610 */
  readonly unsubscribed = new Set<string>();

  constructor(
    readonly accountSid = `AC${randomBytes(16).toString("hex")}`,
    readonly authToken = randomBytes(16).toString("hex"),
  ) {
    super();
  }

  private error(status: number, code: number, message: string): Reply {
    return {
      status,
      body: { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status },
    };
  }

  protected override errorBody(status: number) {
    const [code, message] = ERRORS[status] ?? [20500, "Internal Server Error"];
    return { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status };
  }

  protected route(req: Recorded): Reply {
    const expected = `Basic ${Buffer.from(`${this.accountSid}:${this.authToken}`).toString("base64")}`;
    if (req.headers.authorization !== expected) return this.error(401, 20003, "Authenticate");
    if (req.method !== "POST" || req.path !== `/2010-04-01/Accounts/${this.accountSid}/Messages.json`) {
      return this.error(404, 20404, `The requested resource ${req.path} was not found`);
    }
    const p = req.form ?? {};
    if (!p.To) return this.error(400, 21604, "A 'To' phone number is required.");
    if (!p.From && !p.MessagingServiceSid)
      return this.error(400, 21603, "A 'From' phone number is required.");
    if (!p.Body) return this.error(400, 21602, "Message body is required.");
    if (this.invalidNumbers.has(p.To) || !/^\+[1-9]\d{6,14}$/.test(p.To)) {
      return this.error(400, 21211, `The 'To' number ${p.To} is not a valid phone number.`);
    }
    if (this.unsubscribed.has(p.To)) {
      return this.error(400, 21610, "Attempt to send to unsubscribed recipient");
    }
    const sid = `SM${randomBytes(16).toString("hex")}`;
    this.messages.push({
      sid,
      to: p.To,
      from: p.From ?? p.MessagingServiceSid!,
      body: p.Body,
      statusCallback: p.StatusCallback,
    });
    const now = new Date().toUTCString().replace("GMT", "+0000");
    return {
      status: 201,
      body: {
        account_sid: this.accountSid,
        api_version: "2010-04-01",
        body: p.Body,
        date_created: now,
        date_sent: null,
        date_updated: now,
        direction: "outbound-api",
        error_code: null,
        error_message: null,
        from: p.From ?? null,
        messaging_service_sid: p.MessagingServiceSid ?? null,
        num_media: "0",
        num_segments: String(Math.ceil(p.Body.length / 153) || 1),
        price: null,
        price_unit: "USD",
        sid,
        status: "queued",
        subresource_uris: { media: `/2010-04-01/Accounts/${this.accountSid}/Messages/${sid}/Media.json` },
        to: p.To,
        uri: `/2010-04-01/Accounts/${this.accountSid}/Messages/${sid}.json`,
      },
    };
  }
}
