/**
 * A local HTTP server speaking Stripe's wire format for the three calls Amends makes: form-encoded
 * requests with bracketed keys, bearer auth, Idempotency-Key replay (same key + same params →
 * the stored response with `Idempotent-Replayed: true`; different params → idempotency_error),
 * and JSON objects and errors shaped as in Stripe's API reference. Stripe's real SDK talks to it.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

type Json = Record<string, any>;

export interface Effect {
  key: string;
  object: string;
  id: string;
  body: Json;
}

function parseForm(text: string): Json {
  const out: Json = {};
  for (const [rawKey, value] of new URLSearchParams(text)) {
    const path = rawKey.replace(/\]/g, "").split("[");
    let node = out;
    path.forEach((part, i) => {
      if (i === path.length - 1) node[part] = value;
      else node = node[part] ??= {};
    });
  }
  return out;
}

const id = (prefix: string) => `${prefix}_${randomBytes(12).toString("hex")}`;
const now = () => Math.floor(Date.now() / 1000);

export class StripeFake {
  readonly effects: Effect[] = [];
  /** charges that can be refunded: id → {amount, refunded, currency} */
  readonly charges = new Map<string, { amount: number; refunded: number; currency: string }>();
  /** paid invoices that credit notes can refund: id → {customer, amount_paid, credited, currency} */
  readonly invoices = new Map<
    string,
    { customer: string; amountPaid: number; credited: number; currency: string }
  >();
  /** the customers Stripe knows, by their Stripe id (cus_…) */
  readonly customers = new Set<string>();
  private readonly idempotent = new Map<string, { params: string; status: number; body: Json }>();
  private server: Server | undefined;
  url = "";

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server!.address() as { port: number }).port}`;
    return this;
  }

  stop(): Promise<void> {
    return new Promise((r) => this.server?.close(() => r()) ?? r());
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    let text = "";
    for await (const chunk of req) text += chunk;
    const send = (status: number, body: Json, replayed = false) => {
      res.writeHead(status, {
        "content-type": "application/json",
        "request-id": id("req"),
        ...(replayed && { "idempotent-replayed": "true" }),
      });
      res.end(JSON.stringify(body));
    };
    if (!/^Bearer sk_test_/.test(req.headers.authorization ?? "")) {
      return send(401, { error: { type: "invalid_request_error", message: "Invalid API Key provided" } });
    }
    const key = req.headers["idempotency-key"] as string | undefined;
    const params = text;
    if (key && this.idempotent.has(key)) {
      const stored = this.idempotent.get(key)!;
      if (stored.params !== params) {
        return send(400, {
          error: {
            type: "idempotency_error",
            message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
          },
        });
      }
      return send(stored.status, stored.body, true);
    }
    const [status, body] = this.route(req.method ?? "GET", req.url ?? "/", parseForm(text), key ?? "");
    if (key) this.idempotent.set(key, { params, status, body });
    send(status, body);
  }

  private route(method: string, url: string, p: Json, key: string): [number, Json] {
    const invalid = (message: string, param?: string, code?: string): [number, Json] => [
      400,
      { error: { type: "invalid_request_error", message, ...(param && { param }), ...(code && { code }) } },
    ];
    const record = (object: string, body: Json): [number, Json] => {
      this.effects.push({ key, object, id: body.id, body });
      return [200, body];
    };
    if (method === "POST" && url === "/v1/refunds") {
      const charge = this.charges.get(p.charge);
      if (!charge) return invalid(`No such charge: '${p.charge}'`, "charge", "resource_missing");
      const amount = Number(p.amount ?? charge.amount - charge.refunded);
      if (amount > charge.amount - charge.refunded) {
        return invalid(
          `Refund amount (${amount}) is greater than unrefunded amount on charge`,
          "amount",
          "amount_too_large",
        );
      }
      charge.refunded += amount;
      return record("refund", {
        id: id("re"),
        object: "refund",
        amount,
        balance_transaction: id("txn"),
        charge: p.charge,
        created: now(),
        currency: charge.currency,
        metadata: p.metadata ?? {},
        payment_intent: null,
        reason: p.reason ?? null,
        receipt_number: null,
        source_transfer_reversal: null,
        status: "succeeded",
        transfer_reversal: null,
      });
    }
    const noCustomer = (customer: string) =>
      invalid(`No such customer: '${customer}'`, "customer", "resource_missing");
    const balance = /^\/v1\/customers\/([^/]+)\/balance_transactions$/.exec(url);
    if (method === "POST" && balance) {
      if (!this.customers.has(decodeURIComponent(balance[1]!)))
        return [404, noCustomer(decodeURIComponent(balance[1]!))[1] as Json];
      if (!/^-?\d+$/.test(p.amount ?? "")) return invalid("Invalid integer: amount", "amount");
      return record("customer_balance_transaction", {
        id: id("cbtxn"),
        object: "customer_balance_transaction",
        amount: Number(p.amount),
        created: now(),
        credit_note: null,
        currency: p.currency,
        customer: decodeURIComponent(balance[1]!),
        description: p.description ?? null,
        ending_balance: Number(p.amount),
        invoice: null,
        livemode: false,
        metadata: p.metadata ?? {},
        type: "adjustment",
      });
    }
    if (method === "POST" && url === "/v1/billing/credit_grants") {
      if (!this.customers.has(p.customer)) return noCustomer(p.customer);
      if (p.amount?.type !== "monetary")
        return invalid("Missing required param: amount[type].", "amount[type]");
      if (!p.applicability_config?.scope?.price_type) {
        return invalid("Missing required param: applicability_config[scope].", "applicability_config[scope]");
      }
      return record("billing.credit_grant", {
        id: id("credgr"),
        object: "billing.credit_grant",
        amount: {
          monetary: { currency: p.amount.monetary.currency, value: Number(p.amount.monetary.value) },
          type: "monetary",
        },
        applicability_config: { scope: { price_type: p.applicability_config.scope.price_type } },
        category: p.category,
        created: now(),
        customer: p.customer,
        effective_at: p.effective_at ? Number(p.effective_at) : null,
        expires_at: p.expires_at ? Number(p.expires_at) : null,
        livemode: false,
        metadata: p.metadata ?? {},
        name: p.name ?? null,
        priority: 50,
        test_clock: null,
        updated: now(),
        voided_at: null,
      });
    }
    if (method === "POST" && url === "/v1/credit_notes") {
      const invoice = this.invoices.get(p.invoice);
      if (!invoice) return invalid(`No such invoice: '${p.invoice}'`, "invoice", "resource_missing");
      const amount = Number(p.amount);
      if (Number(p.refund_amount ?? 0) !== amount) {
        return invalid(
          "The sum of credit amount, refund amount and out of band amount must equal the credit note amount.",
          "refund_amount",
        );
      }
      if (amount > invoice.amountPaid - invoice.credited)
        return invalid("The credit note amount exceeds the amount paid.", "amount");
      invoice.credited += amount;
      return record("credit_note", {
        id: id("cn"),
        object: "credit_note",
        amount,
        created: now(),
        currency: invoice.currency,
        customer: invoice.customer,
        invoice: p.invoice,
        memo: p.memo ?? null,
        metadata: p.metadata ?? {},
        number: `CN-${this.effects.length + 1}`,
        reason: p.reason ?? null,
        refund: id("re"),
        status: "issued",
        subtotal: amount,
        total: amount,
        type: "post_payment",
        voided_at: null,
      });
    }
    return [
      404,
      { error: { type: "invalid_request_error", message: `Unrecognized request URL (${method}: ${url}).` } },
    ];
  }
}
