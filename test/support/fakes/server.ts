/**
 * The base of every HTTP provider fake: a node:http server on a free loopback port that records
 * each request (raw body, parsed JSON or form) and can be scripted to fail — with an HTTP error
 * in the provider's own error shape, by never answering (so the client's timeout fires), or by
 * dropping the connection. Rules can last a number of requests or until a time (`Date.now()`,
 * so vitest fake timers drive a long outage), and can be switched at runtime.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

export interface Recorded {
  method: string;
  /** path with query string */
  path: string;
  headers: IncomingMessage["headers"];
  body: Buffer;
  text: string;
  json?: any;
  form?: Record<string, string>;
  /** what the fake answered ("timeout" and "reset" for scripted failures) */
  outcome?: number | "timeout" | "reset";
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** An HTTP status (the body defaults to the provider's error shape), a hang, or a dropped socket. */
export type Failure = number | Reply | "timeout" | "reset";

export interface FailureRule {
  failure: Failure;
  /** how many requests fail (default: until recover() or `until`) */
  times?: number;
  /** fail while Date.now() < until */
  until?: number;
  /** only requests this matches fail */
  match?: (req: Recorded) => boolean;
}

export abstract class FakeHttpServer {
  readonly requests: Recorded[] = [];
  /** scripted failures, checked in order before the provider logic runs */
  rules: FailureRule[] = [];
  /** a free-form schedule, asked first for every request: return a failure or undefined */
  schedule: ((req: Recorded, index: number) => Failure | undefined) | undefined;
  url = "";
  private server: Server | undefined;
  private readonly hanging = new Set<ServerResponse>();

  /** the provider's logic: answer one request that is not failing */
  protected abstract route(req: Recorded): Reply | Promise<Reply>;
  /** the provider's error body for a scripted status */
  protected errorBody(status: number, _req: Recorded): unknown {
    return { error: `scripted failure ${status}` };
  }

  /** Fail requests from now on: `fail(500)`, `fail(429, { forMs: 300_000 })`, `fail("timeout", { times: 2 })`. */
  fail(
    failure: Failure,
    opts: { times?: number; forMs?: number; until?: number; match?: FailureRule["match"] } = {},
  ) {
    const until = opts.until ?? (opts.forMs === undefined ? undefined : Date.now() + opts.forMs);
    this.rules.push({ failure, times: opts.times, until, match: opts.match });
    return this;
  }

  /** Clear every scripted failure and release hanging requests. */
  recover() {
    this.rules = [];
    this.schedule = undefined;
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.onRequest(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this;
  }

  stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server?.closeAllConnections();
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private nextFailure(req: Recorded): Failure | undefined {
    const scheduled = this.schedule?.(req, this.requests.length - 1);
    if (scheduled !== undefined) return scheduled;
    this.rules = this.rules.filter((r) => (r.times ?? 1) > 0 && (r.until ?? Infinity) > Date.now());
    const rule = this.rules.find((r) => !r.match || r.match(req));
    if (!rule) return undefined;
    if (rule.times !== undefined) rule.times--;
    return rule.failure;
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const text = body.toString("utf8");
    const type = req.headers["content-type"] ?? "";
    const rec: Recorded = {
      method: req.method ?? "GET",
      path: req.url ?? "/",
      headers: req.headers,
      body,
      text,
    };
    if (type.startsWith("application/json") && text) rec.json = JSON.parse(text);
    if (type.startsWith("application/x-www-form-urlencoded"))
      rec.form = Object.fromEntries(new URLSearchParams(text));
    this.requests.push(rec);

    const failure = this.nextFailure(rec);
    if (failure === "timeout") {
      rec.outcome = "timeout";
      this.hanging.add(res);
      return;
    }
    if (failure === "reset") {
      rec.outcome = "reset";
      res.socket?.destroy();
      return;
    }
    const reply =
      failure === undefined
        ? await this.route(rec)
        : typeof failure === "number"
          ? { status: failure, body: this.errorBody(failure, rec) }
          : { ...failure, body: failure.body ?? this.errorBody(failure.status, rec) };
    rec.outcome = reply.status;
    const isText = typeof reply.body === "string";
    res.writeHead(reply.status, {
      "content-type": isText ? "text/plain; charset=utf-8" : "application/json; charset=utf-8",
      ...reply.headers,
    });
    res.end(reply.body === undefined ? "" : isText ? reply.body : JSON.stringify(reply.body));
  }
}
