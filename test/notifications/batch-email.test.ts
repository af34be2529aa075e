/**
 * E-mail through batch APIs, end to end: the real queue, the delivery code, and fakes speaking
 * Postmark's and SendGrid's wire formats. A fan-out goes out in one request per chunk (and per
 * shared content for SendGrid), each recipient gets exactly one message in their language with
 * their own unsubscribe link, a per-recipient refusal suppresses only that address, a request
 * that fails as a whole is retried without repeating what was taken, and each provider's receipt
 * webhook (authenticated its own way) marks deliveries delivered or bounced.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChannelRegistry } from "../../src/notifications/channels/index.ts";
import { postmarkSender } from "../../src/notifications/channels/postmark.ts";
import { sendGridSender } from "../../src/notifications/channels/sendgrid.ts";
import { CHUNK, type Notifier, startNotifier } from "../../src/notifications/notifier.ts";
import { startTestApp, type TestApp } from "../support/app.ts";
import { BACKENDS } from "../support/backends.ts";
import { PostmarkFake } from "../support/fakes/postmark.ts";
import { SendGridFake } from "../support/fakes/sendgrid.ts";
import { until } from "../support/until.ts";

const FROM = "The Fleet <status@fleet.test>";
const address = (i: number) => `rider${i}@riders.test`;
/** every third subscriber reads Italian */
const localeOf = (i: number) => (i % 3 === 0 ? "it" : "en");

async function setUp(t: TestApp, n: number) {
  const settings = await t.call("PUT", "/api/v1/notification-settings", {
    public_url: "http://status.fleet.test",
  });
  expect(settings.status, JSON.stringify(settings.json)).toBe(200);
  expect((await t.call("POST", "/api/v1/components", { id: "rides", name: "Rides" })).status).toBe(201);
  await t.database.query(
    `insert into subscribers (workspace_id, id, channel, address, locale, confirmed_at, created_at)
     select $1, 'sub_' || lpad(i::text, 6, '0'), 'email', 'rider' || i || '@riders.test',
            case when i % 3 = 0 then 'it' else 'en' end, now(), now()
       from generate_series(1, $2::int) i`,
    [t.workspaceId, n],
  );
}

async function openIncident(t: TestApp, notifier: Notifier, id: string) {
  const opened = await t.call("POST", "/api/v1/incidents", {
    id,
    title: "Rides cannot be started",
    body: "We are investigating.",
    translations: { it: { title: "Impossibile iniziare le corse", body: "Stiamo indagando." } },
    components: [{ id: "rides", status: "major_outage" }],
  });
  expect(opened.status, JSON.stringify(opened.json)).toBe(201);
  await notifier.dispatch();
}

const statuses = async (t: TestApp) =>
  Object.fromEntries(
    (
      await t.database.query<{ status: string; n: number }>(
        "select status, count(*)::int as n from deliveries where channel = 'email' group by status",
      )
    ).map((r) => [r.status, r.n]),
  );
const deliveryOf = async (t: TestApp, to: string) =>
  (
    await t.database.query<{ status: string; provider: string; provider_message_id: string }>(
      "select status, provider, provider_message_id from deliveries where address = $1",
      [to],
    )
  )[0]!;
const suppressed = async (t: TestApp) =>
  (await t.database.query<{ address: string }>("select address from suppressions order by address")).map(
    (r) => r.address,
  );
const counts = (addresses: string[]) => {
  const seen = new Map<string, number>();
  for (const a of addresses) seen.set(a, (seen.get(a) ?? 0) + 1);
  return seen;
};

describe.each(BACKENDS)("Postmark batches on %s", (backend) => {
  const N = 2 * CHUNK + 203; // three chunks, so three batches
  const INACTIVE = address(7);
  const postmark = new PostmarkFake();
  let t: TestApp;
  let notifier: Notifier;
  const auth = `Basic ${Buffer.from("postmark:hook-secret").toString("base64")}`;

  beforeAll(async () => {
    await postmark.start();
    postmark.inactive.add(INACTIVE);
    const channels: ChannelRegistry = {
      email: [postmarkSender({ serverToken: postmark.serverToken, from: FROM, apiBase: postmark.url })],
    };
    t = await startTestApp(backend, {
      channels,
      receipts: { postmark: { user: "postmark", password: "hook-secret" } },
    });
    notifier = await startNotifier(t.database, { channels });
    await setUp(t, N);
  }, 60_000);
  afterAll(async () => {
    await notifier?.stop();
    await t?.close();
    await postmark.stop();
  });

  it("sends one request per chunk, each recipient once, in their language; retries a failed batch alone", async () => {
    // The second request fails as a whole (Postmark down for a moment): only its recipients go again.
    postmark.schedule = (_req, index) => (index === 1 ? 503 : undefined);
    await openIncident(t, notifier, "INC-RIDES");
    await until("every recipient to be settled", async () => (await statuses(t)).sent === N - 1, 60_000);

    expect(postmark.requests).toHaveLength(Math.ceil(N / CHUNK) + 1);
    expect(postmark.requests.filter((r) => r.outcome === 503)).toHaveLength(1);
    for (const r of postmark.requests) {
      expect(r.path).toBe("/email/batch");
      expect(r.headers["x-postmark-server-token"]).toBe(postmark.serverToken);
      expect(r.json.length).toBeLessThanOrEqual(500);
    }
    // Exactly once each, the inactive address never.
    const seen = counts(postmark.messages.map((m) => m.To));
    expect(seen.size).toBe(N - 1);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    expect(seen.has(INACTIVE)).toBe(false);

    const links = new Set<string>();
    for (const i of [1, 2, 3, 500, 501, 999, N]) {
      const m = postmark.messages.find((x) => x.To === address(i))!;
      const it = localeOf(i) === "it";
      expect(m.Subject).toBe(
        it ? "The Fleet: Impossibile iniziare le corse" : "The Fleet: Rides cannot be started",
      );
      expect(m.TextBody).toContain(it ? "Stiamo indagando." : "We are investigating.");
      expect(m.HtmlBody).toContain(`lang="${localeOf(i)}"`);
      expect(m.From).toBe(FROM);
      expect(m.MessageStream).toBe("outbound");
      expect(postmark.header(m, "Content-Language")).toBe(localeOf(i));
      const unsubscribe = postmark.header(m, "List-Unsubscribe")!;
      expect(unsubscribe).toMatch(/^<http:\/\/status\.fleet\.test\/unsubscribe\?t=/);
      expect(m.TextBody).toContain(unsubscribe.slice(1, -1));
      links.add(unsubscribe);
      expect(m.Metadata?.amends_id).toMatch(/^[0-9a-f]{32}$/);
      expect(postmark.header(m, "Message-ID")).toBe(`<${m.Metadata!.amends_id}@fleet.test>`);
      expect(await deliveryOf(t, address(i))).toMatchObject({
        status: "sent",
        provider: "postmark",
        provider_message_id: m.MessageID,
      });
    }
    expect(links.size).toBe(7);

    // The per-recipient 406 suppressed that address only.
    expect((await deliveryOf(t, INACTIVE)).status).toBe("suppressed");
    expect(await suppressed(t)).toEqual([INACTIVE]);

    // Dispatching again sends nothing twice.
    const requests = postmark.requests.length;
    await t.database.query("update outbox_messages set status = 'pending' where incident_id = 'INC-RIDES'");
    await notifier.dispatch();
    await new Promise((r) => setTimeout(r, 2_000));
    expect(postmark.requests.length).toBe(requests);
  }, 90_000);

  it("takes Postmark's bounce and delivery webhooks with its Basic credentials only", async () => {
    const hook = (body: unknown, authorization?: string) =>
      t.app.inject({
        method: "POST",
        url: "/api/v1/hooks/postmark",
        payload: body as object,
        headers: authorization ? { authorization } : {},
      });
    const bounced = postmark.messages.find((m) => m.To === address(5))!;
    const delivered = postmark.messages.find((m) => m.To === address(6))!;

    const anonymous = await hook(postmark.bounce(bounced));
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.headers["www-authenticate"]).toContain("Basic");
    const wrong = `Basic ${Buffer.from("postmark:guess").toString("base64")}`;
    expect((await hook(postmark.bounce(bounced), wrong)).statusCode).toBe(401);
    expect((await deliveryOf(t, address(5))).status).toBe("sent");

    const bad = await hook({ MessageID: bounced.MessageID }, auth);
    expect(bad.statusCode).toBe(400);
    expect(bad.headers["content-type"]).toContain("application/problem+json");
    expect(bad.body).toContain("RecordType");

    expect((await hook(postmark.delivery(delivered), auth)).statusCode).toBe(204);
    expect((await deliveryOf(t, address(6))).status).toBe("delivered");
    expect((await hook(postmark.bounce(bounced), auth)).statusCode).toBe(204);
    expect((await deliveryOf(t, address(5))).status).toBe("bounced");
    expect(await suppressed(t)).toEqual([address(5), INACTIVE].sort());
    // A soft bounce is recorded without suppressing.
    const soft = postmark.messages.find((m) => m.To === address(8))!;
    expect((await hook(postmark.bounce(soft, "SoftBounce", 4096), auth)).statusCode).toBe(204);
    expect((await deliveryOf(t, address(8))).status).toBe("bounced");
    expect(await suppressed(t)).not.toContain(address(8));
  });
});

describe.each(BACKENDS)("SendGrid batches on %s", (backend) => {
  const N = CHUNK + 100; // two chunks, each with English and Italian readers
  const INVALID = address(11);
  const sendgrid = new SendGridFake();
  let t: TestApp;
  let notifier: Notifier;

  beforeAll(async () => {
    await sendgrid.start();
    sendgrid.invalid.add(INVALID);
    const channels: ChannelRegistry = {
      email: [sendGridSender({ apiKey: sendgrid.apiKey, from: FROM, apiBase: sendgrid.url })],
    };
    t = await startTestApp(backend, { channels, receipts: { sendgrid: { publicKey: sendgrid.publicKey } } });
    notifier = await startNotifier(t.database, { channels });
    await setUp(t, N);
  }, 60_000);
  afterAll(async () => {
    await notifier?.stop();
    await t?.close();
    await sendgrid.stop();
  });

  it("shares content per language with substitutions, refuses one bad address alone, retries a 5xx", async () => {
    sendgrid.schedule = (_req, index) => (index === 0 ? 500 : undefined);
    await openIncident(t, notifier, "INC-RIDES");
    await until("every recipient to be settled", async () => (await statuses(t)).sent === N - 1, 60_000);

    // Per chunk, one request per language; the one naming the bad address is sent again without it;
    // and the first request failed as a whole (500) and went again.
    const accepted = sendgrid.requests.filter((r) => r.outcome === 202);
    expect(accepted).toHaveLength(4);
    expect(sendgrid.requests.filter((r) => r.outcome === 400)).toHaveLength(1);
    expect(sendgrid.requests.filter((r) => r.outcome === 500)).toHaveLength(1);
    for (const r of accepted) {
      expect(r.path).toBe("/v3/mail/send");
      expect(r.headers.authorization).toBe(`Bearer ${sendgrid.apiKey}`);
      expect(r.json.personalizations.length).toBeLessThanOrEqual(1000);
      expect(r.json.content[0].type).toBe("text/plain");
      expect(r.json.content[0].value).toContain("%amends_unsubscribe%");
    }
    expect(accepted.map((r) => r.json.personalizations.length).reduce((a: number, b: number) => a + b)).toBe(
      N - 1,
    );

    const seen = counts(sendgrid.messages.map((m) => m.to));
    expect(seen.size).toBe(N - 1);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    for (const i of [1, 3, 499, 501, N]) {
      const m = sendgrid.messages.find((x) => x.to === address(i))!;
      const it = localeOf(i) === "it";
      expect(m.subject).toBe(
        it ? "The Fleet: Impossibile iniziare le corse" : "The Fleet: Rides cannot be started",
      );
      expect(m.text).toContain(it ? "Stiamo indagando." : "We are investigating.");
      expect(m.headers["Content-Language"]).toBe(localeOf(i));
      const link = m.headers["List-Unsubscribe"]!.slice(1, -1);
      expect(m.text).toContain(link); // the substitution put their own link in the shared text
      expect(m.html).toContain(link.replaceAll("&", "&amp;"));
      expect(m.text).not.toContain("%amends_");
      expect(m.customArgs.amends_id).toMatch(/^[0-9a-f]{32}$/);
      expect(await deliveryOf(t, address(i))).toMatchObject({
        status: "sent",
        provider: "sendgrid",
        provider_message_id: m.customArgs.amends_id,
      });
    }
    expect((await deliveryOf(t, INVALID)).status).toBe("suppressed");
    expect(await suppressed(t)).toEqual([INVALID]);
  }, 90_000);

  it("takes signed Event Webhook posts only, marking delivered and bounced", async () => {
    const post = (body: string, headers: Record<string, string>) =>
      t.app.inject({
        method: "POST",
        url: "/api/v1/hooks/sendgrid",
        payload: body,
        headers: { "content-type": "application/json", ...headers },
      });
    const m = (i: number) => sendgrid.messages.find((x) => x.to === address(i))!;
    const body = JSON.stringify(
      sendgrid.events([m(1), "processed"], [m(1), "delivered"], [m(2), "bounce"], [m(4), "blocked"]),
    );

    const forged = sendgrid.sign(body.replace("delivered", "bounce"));
    expect((await post(body, forged)).statusCode).toBe(403);
    expect((await post(body, {})).statusCode).toBe(403);
    expect((await deliveryOf(t, address(1))).status).toBe("sent");

    const notArray = JSON.stringify({ event: "delivered" });
    const bad = await post(notArray, sendgrid.sign(notArray));
    expect(bad.statusCode).toBe(400);
    expect(bad.headers["content-type"]).toContain("application/problem+json");

    expect((await post(body, sendgrid.sign(body))).statusCode).toBe(204);
    expect((await deliveryOf(t, address(1))).status).toBe("delivered");
    expect((await deliveryOf(t, address(2))).status).toBe("bounced");
    expect((await deliveryOf(t, address(4))).status).toBe("bounced");
    expect(await suppressed(t)).toEqual([INVALID, address(2)].sort()); // blocked is not the address's fault
  });
});
