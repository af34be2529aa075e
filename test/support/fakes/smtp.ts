/**
 * A real SMTP server (the `smtp-server` package) on a free loopback port that keeps every
 * message it accepts, plus a small MIME reader so tests can assert headers and body parts
 * without a mail-parsing dependency. Recipients can be scripted to be rejected with any reply.
 */
import { SMTPServer } from "smtp-server";

export interface MimePart {
  headers: Map<string, string>;
  /** decoded body (quoted-printable or base64 undone, UTF-8) */
  body: string;
  parts: MimePart[];
}

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
  message: MimePart;
}

/** RFC 2047 encoded words (=?UTF-8?B?…?= and =?UTF-8?Q?…?=) as nodemailer writes them. */
export function decodeWords(value: string): string {
  return value
    .replace(/\?=\s+=\?/g, "?==?")
    .replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_, _charset, enc: string, text: string) =>
      enc.toUpperCase() === "B"
        ? Buffer.from(text, "base64").toString("utf8")
        : decodeQp(text.replace(/_/g, " ")),
    );
}

function decodeQp(text: string): string {
  const bytes: number[] = [];
  const soft = text.replace(/=\r?\n/g, "");
  for (let i = 0; i < soft.length; i++) {
    if (soft[i] === "=" && /^[0-9A-Fa-f]{2}$/.test(soft.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(soft.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(...Buffer.from(soft[i]!, "utf8"));
  }
  return Buffer.from(bytes).toString("utf8");
}

export function parseMime(raw: string): MimePart {
  const split = raw.search(/\r?\n\r?\n/);
  const head = split < 0 ? raw : raw.slice(0, split);
  const rest = split < 0 ? "" : raw.slice(split).replace(/^\r?\n\r?\n/, "");
  const headers = new Map<string, string>();
  for (const line of head.replace(/\r?\n[ \t]+/g, " ").split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  const type = headers.get("content-type") ?? "text/plain";
  const boundary = /boundary="?([^";]+)"?/.exec(type)?.[1];
  if (type.startsWith("multipart/") && boundary) {
    const chunks = rest.split(`--${boundary}`).slice(1, -1);
    return { headers, body: "", parts: chunks.map((c) => parseMime(c.replace(/^\r?\n/, ""))) };
  }
  const encoding = (headers.get("content-transfer-encoding") ?? "7bit").toLowerCase();
  const body =
    encoding === "base64"
      ? Buffer.from(rest.replace(/\s+/g, ""), "base64").toString("utf8")
      : encoding === "quoted-printable"
        ? decodeQp(rest)
        : rest;
  return { headers, body: body.replace(/\r\n/g, "\n").replace(/\n$/, ""), parts: [] };
}

/** Every leaf part of a message, depth first. */
export function leaves(part: MimePart): MimePart[] {
  return part.parts.length ? part.parts.flatMap(leaves) : [part];
}

export class SmtpFake {
  readonly received: ReceivedMail[] = [];
  /** recipient address → SMTP reply, e.g. "550 5.1.1 No such user" or "450 4.2.1 Mailbox busy" */
  readonly rejectRecipients = new Map<string, string>();
  private server: SMTPServer | undefined;
  port = 0;
  get url() {
    return `smtp://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.server = new SMTPServer({
      secure: false,
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      logger: false,
      onRcptTo: (address, _session, callback) => {
        const reply = this.rejectRecipients.get(address.address);
        if (!reply) return callback();
        const err = new Error(reply.replace(/^\d{3}\s*/, "")) as Error & { responseCode: number };
        err.responseCode = Number(reply.slice(0, 3));
        callback(err);
      },
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("end", () => {
          const raw = Buffer.concat(chunks).toString("utf8");
          this.received.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
            to: session.envelope.rcptTo.map((r) => r.address),
            raw,
            message: parseMime(raw),
          });
          callback();
        });
      },
    });
    // A client killed mid-session resets its connection: that is the client's failure, not the server's.
    this.server.on("error", () => {});
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.server.address() as { port: number }).port;
    return this;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
