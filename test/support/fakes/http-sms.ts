/**
 * A generic JSON SMS gateway: bearer auth, any path, JSON body, Idempotency-Key replay (same key
 * → the stored response, no second SMS), and a scriptable response shape for the message id.
 */
import { randomBytes } from "node:crypto";
import { FakeHttpServer, type Recorded, type Reply } from "./server.ts";

export interface GatewayMessage {
  id: string;
  idempotencyKey?: string;
  json: any;
}

export class HttpSmsFake extends FakeHttpServer {
  readonly messages: GatewayMessage[] = [];
  /** how the accepted message is described in the 201 body */
  responseShape: (id: string) => unknown = (id) => ({ id, status: "accepted" });
  private readonly replies = new Map<string, Reply>();

  constructor(readonly token: string) {
    super();
  }

  protected override errorBody(status: number) {
    return {
      error: { code: status === 422 ? "invalid_number" : "server_error", message: `status ${status}` },
    };
  }

  protected route(req: Recorded): Reply {
    if (req.headers.authorization !== `Bearer ${this.token}`) {
      return { status: 401, body: { error: { code: "unauthorized", message: "bad token" } } };
    }
    const key = req.headers["idempotency-key"] as string | undefined;
    const stored = key && this.replies.get(key);
    if (stored) return stored;
    const id = `msg_${randomBytes(8).toString("hex")}`;
    this.messages.push({ id, idempotencyKey: key, json: req.json });
    const reply = { status: 201, body: this.responseShape(id) };
    if (key) this.replies.set(key, reply);
    return reply;
  }
}
