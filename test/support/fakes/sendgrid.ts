/**
 * SendGrid's v3 Mail Send as it looks on the wire
 * (https://www.twilio.com/docs/sendgrid/for-developers/sending-email/personalizations and the
 * errors at …/api-reference/mail-send/errors): POST /v3/mail/send with a Bearer key; at most 1000
 * personalizations, each address once; text/plain before text/html; legacy `substitutions`
 * replaced in the subject and content per personalization. 202 with an empty body and
 * X-Message-Id; 400 {errors: [{message, field, help}]}; 401 {errors: [{message, field: null}]}.
 * Each personalization becomes one delivered message, as a recipient would see it.
 *
 * Its Event Webhook: `events()` builds the JSON array SendGrid posts (custom_args at the top level
 * of each event) and `sign()` signs it as SendGrid does: ECDSA P-256 over timestamp + body.
 */
import { generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { FakeHttpServer, type Recorded, type Reply } from "./server.ts";

export interface SendGridMessage {
  xMessageId: string;
  sgMessageId: string;
  to: string;
  from: string;
  subject: string;
  text?: string;
  html?: string;
  headers: Record<string, string>;
  customArgs: Record<string, string>;
}

interface Personalization {
  to?: { email?: string }[];
  subject?: string;
  headers?: Record<string, string>;
  custom_args?: Record<string, string>;
  substitutions?: Record<string, string>;
}

const HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html";
const bad = (message: string, field: string | null): Reply => ({
  status: 400,
  body: { errors: [{ message, field, help: `${HELP}#message.${field ?? ""}` }] },
});

export class SendGridFake extends FakeHttpServer {
  readonly messages: SendGridMessage[] = [];
  /** addresses SendGrid's validation refuses (a 400 naming that personalization) */
  readonly invalid = new Set<string>();
  private readonly keys = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  /** the Signed Event Webhook's verification key, as SendGrid's settings show it (base64 DER) */
  readonly publicKey = this.keys.publicKey.export({ format: "der", type: "spki" }).toString("base64");

  constructor(readonly apiKey = `SG.${randomBytes(16).toString("hex")}`) {
    super();
  }

  protected override errorBody(status: number) {
    return {
      errors: [{ message: status >= 500 ? "Internal Server Error" : `error ${status}`, field: null }],
    };
  }

  protected route(req: Recorded): Reply {
    if (req.headers.authorization !== `Bearer ${this.apiKey}`)
      return {
        status: 401,
        body: {
          errors: [
            { field: null, message: "The provided authorization grant is invalid, expired, or revoked" },
          ],
        },
      };
    if (req.method !== "POST" || req.path !== "/v3/mail/send")
      return { status: 404, body: this.errorBody(404) };
    const body = req.json ?? {};
    const ps: Personalization[] = Array.isArray(body.personalizations) ? body.personalizations : [];
    if (ps.length === 0) return bad("You must have at least one personalization.", "personalizations");
    if (ps.length > 1000)
      return bad(
        `The personalization block is limited to 1000 personalizations per API request. You have provided ${ps.length} personalizations. Please consider splitting this into multiple requests and resending your request.`,
        "personalizations",
      );
    if (!body.from?.email) return bad("The from object must be provided for every email send.", "from");
    const content: { type: string; value: string }[] = Array.isArray(body.content) ? body.content : [];
    if (content.length === 0)
      return bad("Unless a valid template_id is provided, the content parameter is required.", "content");
    if (content.length > 1 && content[0]!.type !== "text/plain")
      return bad(
        "The text/plain content type must be first, followed by the text/html content type.",
        "content",
      );
    const seen = new Set<string>();
    for (const [i, p] of ps.entries()) {
      const email = p.to?.[0]?.email ?? "";
      if (!/^[^\s@,]+@[^\s@,]+\.[^\s@,]+$/.test(email) || this.invalid.has(email.toLowerCase()))
        return bad("Does not contain a valid address.", `personalizations.${i}.to.0.email`);
      if (seen.has(email.toLowerCase()))
        return bad(
          "Each unique email address in the personalizations array should only be included once. You have included email address more than once.",
          "personalizations",
        );
      seen.add(email.toLowerCase());
      if (!p.subject && !body.subject)
        return bad("The subject is required.", `personalizations.${i}.subject`);
    }
    const xMessageId = randomBytes(16).toString("base64url").slice(0, 22);
    for (const [i, p] of ps.entries()) {
      const substitute = (s: string | undefined) =>
        s === undefined
          ? undefined
          : Object.entries(p.substitutions ?? {}).reduce(
              (acc, [tag, value]) => acc.split(tag).join(value),
              s,
            );
      this.messages.push({
        xMessageId,
        sgMessageId: `${xMessageId}.filterdrecv-${i}.0`,
        to: p.to![0]!.email!,
        from: body.from.email,
        subject: substitute(p.subject ?? body.subject)!,
        text: substitute(content.find((c) => c.type === "text/plain")?.value),
        html: substitute(content.find((c) => c.type === "text/html")?.value),
        headers: { ...body.headers, ...p.headers },
        customArgs: { ...body.custom_args, ...p.custom_args },
      });
    }
    return { status: 202, body: "", headers: { "x-message-id": xMessageId } };
  }

  /** Events as the Event Webhook posts them, for messages it took. */
  events(
    ...items: [SendGridMessage, "processed" | "delivered" | "bounce" | "blocked" | "dropped", string?][]
  ) {
    return items.map(([m, event, reason]) => ({
      email: m.to,
      timestamp: Math.floor(Date.now() / 1000),
      "smtp-id": `<${m.xMessageId}@geopod-ismtpd-1>`,
      event: event === "blocked" ? "bounce" : event,
      category: [],
      sg_event_id: randomBytes(12).toString("base64url"),
      sg_message_id: m.sgMessageId,
      ...(event === "bounce" && {
        type: "bounce",
        status: "5.1.1",
        reason: reason ?? "550 5.1.1 unknown user",
      }),
      ...(event === "blocked" && { type: "blocked", status: "4.0.0", reason: reason ?? "421 try later" }),
      ...(event === "dropped" && { reason: reason ?? "Bounced Address", status: "5.0.0" }),
      ...(event === "delivered" && { response: "250 OK" }),
      ...m.customArgs,
    }));
  }

  /** The Signed Event Webhook's headers for a body, as SendGrid signs it. */
  sign(body: string, timestamp = String(Math.floor(Date.now() / 1000))) {
    const signature = sign("sha256", Buffer.from(timestamp + body), this.keys.privateKey).toString("base64");
    return {
      "x-twilio-email-event-webhook-signature": signature,
      "x-twilio-email-event-webhook-timestamp": timestamp,
    };
  }
}
