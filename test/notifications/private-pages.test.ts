/**
 * Private means private in messages too: an incident on what only a private page shows is not
 * posted to the company's social account and reaches no page subscriber or webhook, except a
 * subscriber who chose that component; one on a public component reaches the public as before.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ok, startWorld, type World } from "../messages/world.ts";
import { BACKENDS } from "../support/backends.ts";

describe.each(BACKENDS)("incidents on private components, at the receivers, on %s", (backend) => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld(backend);
    const { t } = w;
    await ok(t, "POST", "/api/v1/components", { id: "app", name: "App" });
    await ok(t, "POST", "/api/v1/components", { id: "vault", name: "Key vault" });
    await ok(t, "POST", "/api/v1/status-pages", {
      id: "ops",
      name: "Operations",
      components: ["vault"],
      password: "correct horse battery",
    });
    await ok(t, "PUT", "/api/v1/notification-settings", { public_url: "https://status.fleet.test" });
    w.hooks.secret = `whsec_${Buffer.from("private-pages-secret-0123456789").toString("base64")}`;
    await t.database.query(
      `insert into subscribers (workspace_id, id, channel, address, locale, components, secrets, confirmed_at, created_at)
       values ($1, 'sub_page', 'email', 'page@example.com', 'en', '{}', null, now(), now()),
              ($1, 'sub_app', 'email', 'app@example.com', 'en', '{app}', null, now(), now()),
              ($1, 'sub_vault', 'email', 'vault@example.com', 'en', '{vault}', null, now(), now()),
              ($1, 'sub_hook', 'webhook', $2, 'en', '{}', jsonb_build_object('webhook_secret', $3::text), now(), now())`,
      [t.workspaceId, `${w.hooks.url}/events`, w.hooks.secret],
    );
  }, 90_000);
  afterAll(async () => w?.close());

  const open = async (id: string, component: string) => {
    const before = w.mark();
    await ok(w.t, "POST", "/api/v1/incidents", {
      id,
      title: `${component} is down`,
      body: "Looking into it.",
      components: [{ id: component, status: "major_outage" }],
    });
    await w.settle();
    return w
      .since(before)
      .map((m) => `${m.channel}:${m.channel === "webhook" ? "hook" : m.to}`)
      .sort();
  };

  it("tells only who chose the private component, and posts nothing", async () => {
    expect(await open("INC-VAULT", "vault")).toEqual(["email:vault@example.com"]);
  });

  it("tells the public about a public component as before", async () => {
    expect(await open("INC-APP", "app")).toEqual([
      "email:app@example.com",
      "email:page@example.com",
      "mastodon:public",
      "webhook:hook",
    ]);
  });
});
