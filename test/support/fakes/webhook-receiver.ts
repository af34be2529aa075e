/**
 * A customer's webhook endpoint that verifies the Standard Webhooks signature with the
 * `standardwebhooks` Webhook class (401 when it does not verify) and keeps each delivery and
 * each distinct event (deduplicated by webhook-id, as the spec asks receivers to do).
 */
import { Webhook } from "standardwebhooks";
import { FakeHttpServer, type Recorded, type Reply } from "./server.ts";

export interface Delivery {
  /** the endpoint's URL the delivery was posted to */
  url: string;
  id: string;
  timestamp: string;
  signature: string;
  payload: any;
}

export class WebhookReceiver extends FakeHttpServer {
  readonly deliveries: Delivery[] = [];
  readonly events = new Map<string, any>();
  readonly rejected: { path: string; reason: string }[] = [];

  /** the signing secret; settable, for a subscription that is given its secret when it is made */
  constructor(public secret: string) {
    super();
  }

  protected route(req: Recorded): Reply {
    const headers = {
      "webhook-id": String(req.headers["webhook-id"] ?? ""),
      "webhook-timestamp": String(req.headers["webhook-timestamp"] ?? ""),
      "webhook-signature": String(req.headers["webhook-signature"] ?? ""),
    };
    let payload: unknown;
    try {
      payload = new Webhook(this.secret).verify(req.text, headers);
    } catch (err) {
      this.rejected.push({ path: req.path, reason: (err as Error).message });
      return { status: 401, body: { error: (err as Error).message } };
    }
    this.deliveries.push({
      url: `${this.url}${req.path}`,
      id: headers["webhook-id"],
      timestamp: headers["webhook-timestamp"],
      signature: headers["webhook-signature"],
      payload,
    });
    if (!this.events.has(headers["webhook-id"])) this.events.set(headers["webhook-id"], payload);
    return { status: 204 };
  }
}
