/**
 * Postmark's batch API as it looks on the wire
 * (https://postmarkapp.com/developer/user-guide/send-email-with-api/batch-emails): POST
 * /email/batch with X-Postmark-Server-Token, a JSON array of at most 500 messages; 200 with one
 * result per message in order — {ErrorCode: 0, Message: "OK", MessageID, SubmittedAt, To} or
 * {ErrorCode, Message} — and whole-request errors as 401/422 {ErrorCode, Message}. Addresses can
 * be scripted inactive (406); a To Postmark cannot parse is 300. Its webhooks' records are built
 * by `bounce()` and `delivery()`.
 */
import { randomUUID } from "node:crypto";
import { FakeHttpServer, type Recorded, type Reply } from "./server.ts";

export interface PostmarkMessage {
  MessageID: string;
  From: string;
  To: string;
  Subject: string;
  TextBody?: string;
  HtmlBody?: string;
  Headers: { Name: string; Value: string }[];
  Metadata?: Record<string, string>;
  MessageStream?: string;
}

export class PostmarkFake extends FakeHttpServer {
  /** every message Postmark took, in order */
  readonly messages: PostmarkMessage[] = [];
  /** addresses Postmark has marked inactive (hard bounce, complaint): ErrorCode 406 */
  readonly inactive = new Set<string>();

  constructor(readonly serverToken = randomUUID()) {
    super();
  }

  protected override errorBody(status: number) {
    return status === 401
      ? { ErrorCode: 10, Message: "Request does not contain a valid Server token." }
      : { ErrorCode: 100, Message: "Maintenance" };
  }

  header(m: PostmarkMessage, name: string): string | undefined {
    return m.Headers.find((h) => h.Name.toLowerCase() === name.toLowerCase())?.Value;
  }

  protected route(req: Recorded): Reply {
    if (req.headers["x-postmark-server-token"] !== this.serverToken)
      return { status: 401, body: this.errorBody(401) };
    if (req.method !== "POST" || req.path !== "/email/batch")
      return { status: 404, body: { ErrorCode: 404, Message: "Not found" } };
    if (!Array.isArray(req.json))
      return { status: 422, body: { ErrorCode: 402, Message: "Received invalid JSON input." } };
    if (req.json.length > 500)
      return {
        status: 422,
        body: { ErrorCode: 410, Message: "Too many messages in batch. Please send 500 or fewer." },
      };
    const submittedAt = new Date().toISOString();
    return {
      status: 200,
      body: (req.json as Partial<PostmarkMessage>[]).map((m) => {
        if (!m.From) return { ErrorCode: 300, Message: "Invalid 'From' address: ''." };
        if (!m.To || !/^[^\s@,]+@[^\s@,]+\.[^\s@,]+$/.test(m.To))
          return { ErrorCode: 300, Message: `Error parsing 'To': Illegal email address '${m.To ?? ""}'.` };
        if (!m.TextBody && !m.HtmlBody)
          return { ErrorCode: 300, Message: "Provide either email TextBody or HtmlBody or both." };
        if (this.inactive.has(m.To.toLowerCase()))
          return {
            ErrorCode: 406,
            Message: `You tried to send to recipient(s) that have been marked as inactive. Found inactive addresses: ${m.To}. Inactive recipients are ones that have generated a hard bounce, a spam complaint, or a manual suppression.`,
          };
        const MessageID = randomUUID();
        this.messages.push({ ...(m as PostmarkMessage), Headers: m.Headers ?? [], MessageID });
        return { ErrorCode: 0, Message: "OK", MessageID, SubmittedAt: submittedAt, To: m.To };
      }),
    };
  }

  /** A Bounce webhook record for a message it took (the shape of Postmark's bounce webhook). */
  bounce(message: PostmarkMessage, type = "HardBounce", typeCode = 1) {
    return {
      RecordType: "Bounce",
      ID: Math.floor(Math.random() * 1e9),
      Type: type,
      TypeCode: typeCode,
      Name: type === "HardBounce" ? "Hard bounce" : type,
      Tag: "",
      MessageID: message.MessageID,
      Metadata: message.Metadata ?? {},
      ServerID: 23,
      MessageStream: message.MessageStream ?? "outbound",
      Description: "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
      Details: "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
      Email: message.To,
      From: message.From,
      BouncedAt: new Date().toISOString(),
      DumpAvailable: true,
      Inactive: type === "HardBounce",
      CanActivate: true,
      Subject: message.Subject,
    };
  }

  /** A Delivery webhook record. */
  delivery(message: PostmarkMessage) {
    return {
      RecordType: "Delivery",
      ServerID: 23,
      MessageStream: message.MessageStream ?? "outbound",
      MessageID: message.MessageID,
      Recipient: message.To,
      Tag: "",
      DeliveredAt: new Date().toISOString(),
      Details: "Test delivery webhook details",
      Metadata: message.Metadata ?? {},
    };
  }
}
