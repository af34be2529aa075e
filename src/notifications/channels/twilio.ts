/**
 * SMS through Twilio's Messages resource (POST /2010-04-01/Accounts/{sid}/Messages.json,
 * form-encoded, HTTP Basic with the account SID and auth token). Twilio accepts no idempotency
 * key on this endpoint, so none is sent: a retry after a lost reply can duplicate an SMS, which is
 * why timeouts stay generous.
 */
import { basicAuth, describe, field, request } from "./http.ts";
import { assertPhoneNumber } from "./sms.ts";
import { type ChannelSender, type OutgoingMessage, PermanentFailure, type SendResult } from "./types.ts";

export interface TwilioConfig {
  accountSid: string;
  authToken: string;
  /** a Twilio number in E.164, an alphanumeric sender id, or a Messaging Service SID (MG…) */
  from: string;
  /** default https://api.twilio.com */
  apiBase?: string;
  /** delivery receipts are POSTed here */
  statusCallback?: string;
  timeoutMs?: number;
}

/**
 * Twilio error codes that mean this number will never take our SMS: invalid or unroutable numbers,
 * landlines, and recipients who replied STOP. https://www.twilio.com/docs/api/errors
 */
export const TWILIO_SUPPRESS_CODES = new Set([21211, 21214, 21217, 21401, 21407, 21610, 21612, 21614]);

export function twilioSender(config: TwilioConfig): ChannelSender {
  const base = (config.apiBase ?? "https://api.twilio.com").replace(/\/+$/, "");
  const url = `${base}/2010-04-01/Accounts/${encodeURIComponent(config.accountSid)}/Messages.json`;
  const senderField = config.from.startsWith("MG") ? "MessagingServiceSid" : "From";
  return {
    channel: "sms",
    provider: "twilio",
    async send(message: OutgoingMessage): Promise<SendResult> {
      assertPhoneNumber(message.address);
      const form: Record<string, string> = {
        To: message.address,
        [senderField]: config.from,
        Body: message.text,
      };
      if (config.statusCallback) form.StatusCallback = config.statusCallback;
      const reply = await request(url, {
        headers: { authorization: basicAuth(config.accountSid, config.authToken) },
        form,
        timeoutMs: config.timeoutMs,
        allowPrivate: true, // the operator's own API base
      });
      if (reply.status === 200 || reply.status === 201) {
        return { provider: "twilio", providerMessageId: field(reply.json, "sid") };
      }
      const code = Number(field(reply.json, "code"));
      const detail = `twilio ${reply.status} (${code || "no code"}): ${field(reply.json, "message") ?? "no message"}`;
      if (TWILIO_SUPPRESS_CODES.has(code)) throw new PermanentFailure(detail, true);
      // 401/403/404 are our credentials or account: retried (and failed over), never blamed on the recipient
      if (reply.status === 400) throw new PermanentFailure(detail, false);
      throw new Error(reply.json ? detail : describe("twilio", reply));
    },
  };
}
