/**
 * Public incidents are posted to the company's Mastodon account: once per update, with the
 * idempotency key Mastodon honours, a link to the incident, and no unsubscribe link.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mastodonSender } from "../../src/notifications/channels/mastodon.ts";
import { type Notifier, startNotifier } from "../../src/notifications/notifier.ts";
import { startTestApp, type TestApp } from "../support/app.ts";
import { MastodonFake } from "../support/fakes/mastodon.ts";

describe("social posts", () => {
  const mastodon = new MastodonFake();
  let t: TestApp;
  let notifier: Notifier;
  beforeAll(async () => {
    await mastodon.start();
    const channels = {
      mastodon: [mastodonSender({ instanceUrl: mastodon.url, accessToken: mastodon.token })],
    };
    t = await startTestApp("pglite", { channels });
    notifier = await startNotifier(t.database, { channels });
    await t.call("POST", "/api/v1/components", { id: "radio", name: "Radio link" });
    await t.call("PUT", "/api/v1/notification-settings", { public_url: "https://status.example.net" });
  });
  afterAll(async () => {
    await notifier?.stop();
    await t?.close();
    await mastodon.stop();
  });

  it("posts each incident update once", async () => {
    await t.call("POST", "/api/v1/incidents", {
      id: "INC-TOWER",
      title: "Tower Monte Cucco has no power",
      body: "Customers around Fabriano are offline.",
      components: [{ id: "radio", status: "major_outage" }],
    });
    await notifier.dispatch();
    const end = Date.now() + 20_000;
    while (mastodon.statuses.length < 1 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    expect(mastodon.statuses).toHaveLength(1);
    const post = mastodon.requests.find((r) => r.path === "/api/v1/statuses")!;
    expect(String(post.headers["idempotency-key"])).toMatch(
      /^incident:INC-TOWER:upd_\w+:social:mastodon:mastodon$/,
    );
    const text = JSON.stringify(post.json ?? post.form);
    expect(text).toContain("Tower Monte Cucco has no power");
    expect(text).toContain("https://status.example.net/incidents/INC-TOWER");
    expect(text).not.toContain("unsubscribe");
  }, 30_000);
});
