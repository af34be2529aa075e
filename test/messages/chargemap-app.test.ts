/**
 * Chargemap, an EV-charging app: its API stops answering. A monitor sees it, confirms it and starts
 * the prepared emergency protocol on its own: the page's subscribers (an e-mail confirmed through
 * the page's own form, and a company's webhook) and the customers who charged in the last hours
 * hear it at once in their language, with the support link; the public account posts the
 * protocol's own words; the team is told. When the API answers again the monitor resolves the
 * incident: customers read that it is over in their language, and nobody outside the team ever
 * reads the monitor's name or what the monitor did.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MonitorEngine, startMonitors } from "../../src/monitors/engine.ts";
import { BACKENDS } from "../support/backends.ts";
import { until } from "../support/until.ts";
import {
  expectCustomerWords,
  importCsv,
  ok,
  onePerRecipient,
  type Received,
  startWorld,
  type World,
} from "./world.ts";

// The monitored API is a loopback server here: the operator's setting that allows private targets.
process.env.AMENDS_MONITORS_ALLOW_PRIVATE = "1";

const TEAM = "astreinte@chargemap.test";
/** what only the team may read: the monitor, its target, and every internal id */
const INTERNAL = [
  "Chargemap API health",
  "api-health",
  "monitor",
  "127.0.0.1",
  "app-charge",
  "app-map",
  "app-down",
  "cust_",
  "msg_",
  "upd_",
  "inc_",
];

const PROTOCOL = {
  title: "The Chargemap app is not working",
  body: "Starting a charge from the app fails. Your Chargemap Pass badge still works at every station.",
  translations: {
    fr: {
      title: "L'application Chargemap ne fonctionne pas",
      body: "Impossible de lancer une recharge depuis l'application. Votre badge Chargemap Pass fonctionne toujours sur toutes les bornes.",
    },
    de: {
      title: "Die Chargemap-App funktioniert nicht",
      body: "Das Starten eines Ladevorgangs in der App schlägt fehl. Ihr Chargemap-Pass-Badge funktioniert weiterhin an allen Stationen.",
    },
  },
  components: [{ id: "app", status: "major_outage" }],
  social:
    "Our app is down: start your charge with your Chargemap Pass badge, it works everywhere. Updates on our status page.",
  support: {
    text: "Stuck at a station? Call us:",
    translations: {
      fr: "Bloqué à une borne ? Appelez-nous :",
      de: "An einer Station festgesteckt? Rufen Sie uns an:",
    },
    channel: { kind: "phone", url: "tel:+33970000000", label: "+33 9 70 00 00 00" },
  },
  nextUpdateMinutes: 30,
  etaMinutes: 120,
};

/**
 * People outside the team read no id, internal name or raw timestamp; a webhook is for a machine
 * (ids and ISO times are its contract) but carries no team-only words either.
 */
function outsideTheTeam(m: Received, forbidden: string[]) {
  if (m.to === TEAM) return;
  if (m.channel !== "webhook") return expectCustomerWords(m, forbidden);
  for (const word of ["Chargemap API health", "api-health", "monitor", "team_note", "automatically"])
    expect(m.text, `webhook: ${m.text}`).not.toContain(word);
}

/** An API that answers 200, or 503 while `down`. */
async function chargemapApi() {
  const state = { down: false };
  const server = http.createServer((_req, res) => {
    res.writeHead(state.down ? 503 : 200, { "content-type": "application/json" });
    res.end(JSON.stringify({ status: state.down ? "down" : "ok" }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
  return { state, url, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe.each(BACKENDS)("Chargemap app down, found by a monitor, on %s", (backend) => {
  let w: World;
  let engine: MonitorEngine;
  let api: Awaited<ReturnType<typeof chargemapApi>>;
  /** who hears of it as it begins and as it ends (a function: the webhook's URL comes with the world) */
  const toldOfIt = () =>
    [
      `email:${TEAM}`,
      "email:camille@example.fr",
      "email:lea@example.fr",
      "email:lukas@example.de",
      "mastodon:public",
      `webhook:${w.hooks.url}/chargemap-events`,
    ].sort();

  beforeAll(async () => {
    w = await startWorld(backend);
    api = await chargemapApi();
    const { t } = w;
    await ok(t, "POST", "/api/v1/components", { id: "app", name: "Chargemap app" });
    await ok(t, "POST", "/api/v1/components", { id: "app-map", name: "Map and search", parent_id: "app" });
    await ok(t, "POST", "/api/v1/components", { id: "app-charge", name: "Start a charge", parent_id: "app" });
    await ok(t, "POST", "/api/v1/components", { id: "pass", name: "Chargemap Pass badge" });
    await ok(t, "PUT", "/api/v1/notification-settings", {
      notify_affected_customers: true,
      public_url: "https://status.chargemap.test",
      fallback_locale: "fr",
      team: [{ channel: "email", address: TEAM, locale: "fr" }],
    });
    const hour = 3_600_000;
    const at = (ms: number) => new Date(Date.now() + ms).toISOString();
    await importCsv(
      t,
      "customers",
      [
        "id,name,locale,email",
        "cust_1,Camille Durand,fr,camille@example.fr",
        "cust_2,Lukas Braun,de,lukas@example.de",
        "cust_3,Emma Wilson,en,emma@example.co.uk",
        "cust_4,Hugo Petit,fr,hugo@example.fr",
      ].join("\n"),
    );
    // Camille and Lukas are charging through the app now, Emma charged with it this morning and
    // Hugo only uses his badge: only the first two are using what failed.
    await importCsv(
      t,
      "sessions",
      [
        "id,customer_id,kind,component_id,started_at,ended_at,charge,currency",
        `s1,cust_1,charge,app-charge,${at(-0.5 * hour)},,0,EUR`,
        `s2,cust_2,charge,app-charge,${at(-0.2 * hour)},,0,EUR`,
        `s3,cust_3,charge,app-charge,${at(-6 * hour)},${at(-5 * hour)},1480,EUR`,
        `s4,cust_4,charge,pass,${at(-0.3 * hour)},,0,EUR`,
      ].join("\n"),
    );
    await ok(t, "PUT", "/api/v1/protocols/app-down", PROTOCOL);
    await ok(t, "POST", "/api/v1/monitors", {
      id: "api-health",
      name: "Chargemap API health",
      kind: "http",
      target: api.url,
      componentIds: ["app"],
      intervalSeconds: 1,
      timeoutMs: 500,
      confirm: { consecutive: 2 },
      protocol: "app-down",
    });
    engine = await startMonitors(t.database, {
      damping: { recoveryQuietMs: 1_500, flapWindowMs: 60_000, flapThreshold: 6 },
      flushMs: 100,
      refreshMs: 300,
      location: "local",
    });
  }, 90_000);
  afterAll(async () => {
    await engine?.stop();
    await api?.close();
    await w?.close();
  });

  it("subscribes an e-mail and a webhook through the page, each confirmed by what it received", async () => {
    const form = await w.t.app.inject({
      method: "POST",
      url: "/api/v1/public/subscriptions",
      payload: { channel: "email", address: "lea@example.fr", locale: "fr" },
    });
    expect(form.statusCode, form.body).toBe(202);
    const hook = await w.t.app.inject({
      method: "POST",
      url: "/api/v1/public/subscriptions",
      payload: { channel: "webhook", address: `${w.hooks.url}/chargemap-events`, locale: "en" },
    });
    expect(hook.statusCode, hook.body).toBe(202);
    w.hooks.secret = hook.json().secret;
    // The endpoint could not verify the first confirmation before its owner set the secret: it
    // comes again, signed with that secret.
    await until("the webhook's confirmation is accepted", async () => w.hooks.deliveries.length > 0, 10_000);
    expect(w.hooks.rejected.splice(0)).toHaveLength(1);
    const asked = await w.settle(300);
    const mail = asked.find((m) => m.to === "lea@example.fr")!;
    expect(mail.lang).toBe("fr");
    const confirmMail = mail.text.match(
      /https:\/\/status\.chargemap\.test(\/subscriptions\/confirm\?t=\S+)/,
    )![1]!;
    const confirmHook = asked.find((m) => m.channel === "webhook")!;
    expect(confirmHook.subject).toBe("subscription.confirm");
    const hookUrl = JSON.parse(confirmHook.text).confirm_url.replace("https://status.chargemap.test", "");
    // Each link shows a page that asks before confirming (link scanners only GET).
    const page = await w.t.app.inject({ method: "GET", url: confirmMail });
    expect(page.body).toContain('<html lang="fr"');
    for (const url of [confirmMail, hookUrl]) {
      const t = new URL(url, "http://x").searchParams.get("t")!;
      const res = await w.t.app.inject({
        method: "POST",
        url: "/subscriptions/confirm",
        payload: new URLSearchParams({ t }).toString(),
        headers: { "content-type": "application/x-www-form-urlencoded" },
      });
      expect(res.statusCode, res.body).toBe(200);
    }
    const subscribers = (await ok(w.t, "GET", "/api/v1/subscribers")).subscribers;
    expect(subscribers.map((s: { confirmed_at: string | null }) => s.confirmed_at !== null)).toEqual([
      true,
      true,
    ]);

    // Someone typing Léa's address again gets the answer a new address gets; she hears nothing
    // and keeps her language and her choice of everything.
    const before = w.mark();
    const again = await w.t.app.inject({
      method: "POST",
      url: "/api/v1/public/subscriptions",
      payload: { channel: "email", address: "lea@example.fr", locale: "en", components: ["app-map"] },
    });
    expect(again.statusCode, again.body).toBe(202);
    expect(again.json().status).toBe("pending_confirmation");
    await w.settle(300);
    expect(w.since(before)).toEqual([]);
    const lea = (await ok(w.t, "GET", "/api/v1/subscribers")).subscribers.find(
      (s: { address: string }) => s.address === "lea@example.fr",
    );
    expect([lea.locale, lea.components, lea.confirmed_at !== null]).toEqual(["fr", [], true]);
  });

  /**
   * Takes the API down or up, waits until the monitor has opened or resolved the incident, and
   * returns what arrived: one message for each who is told of it, and nobody else.
   */
  const whenTheApiIs = async (state: "down" | "up") => {
    const before = w.mark();
    api.state.down = state === "down";
    await until(
      state === "down" ? "the protocol's incident opens" : "the monitor resolves the incident",
      async () =>
        (await w.t.call("GET", "/api/v1/incidents?state=open")).json.incidents.length ===
        (state === "down" ? 1 : 0),
      20_000,
    );
    await w.settle();
    const got = onePerRecipient(w.since(before));
    expect([...got.keys()].sort()).toEqual(toldOfIt());
    return got;
  };

  it("tells everyone once, in their words, as soon as the monitor confirms the failure", async () => {
    const got = await whenTheApiIs("down");
    const camille = got.get("email:camille@example.fr")!;
    expect(camille.lang).toBe("fr");
    expect(camille.subject).toContain("L'application Chargemap ne fonctionne pas");
    expect(camille.text).toContain("badge Chargemap Pass");
    expect(camille.text).toContain("Bloqué à une borne ? Appelez-nous");
    expect(camille.html).toContain('href="tel:+33970000000"');
    const lukas = got.get("email:lukas@example.de")!;
    expect(lukas.lang).toBe("de");
    expect(lukas.subject).toContain("Die Chargemap-App funktioniert nicht");
    expect(got.get("email:lea@example.fr")!.subject).toContain("L'application Chargemap ne fonctionne pas");
    expect(got.get("mastodon:public")!.text).toContain(PROTOCOL.social);
    const hook = got.get(`webhook:${w.hooks.url}/chargemap-events`)!;
    expect(hook.subject).toBe("incident.opened");
    expect(w.hooks.rejected).toEqual([]);
    for (const m of got.values()) outsideTheTeam(m, INTERNAL);
    expect(got.get(`email:${TEAM}`)!.text).toMatch(/L'application Chargemap ne fonctionne pas/);
  });

  it("tells them once that it is over, in their language, without the monitor's words", async () => {
    const got = await whenTheApiIs("up");
    const camille = got.get("email:camille@example.fr")!;
    expect(camille.lang).toBe("fr");
    expect(camille.subject).toContain("L'application Chargemap ne fonctionne pas");
    expect(camille.text).toMatch(/résolu|rétabli|fonctionne à nouveau/i);
    expect(got.get("email:lukas@example.de")!.lang).toBe("de");
    expect(got.get(`webhook:${w.hooks.url}/chargemap-events`)!.subject).toBe("incident.resolved");
    for (const m of got.values()) outsideTheTeam(m, [...INTERNAL, "automatically", "automatiquement"]);
    // Emma charged hours before it began and Hugo used his badge: neither heard anything, ever.
    const everyone = w.inbox().map((m) => m.to);
    expect(everyone).not.toContain("emma@example.co.uk");
    expect(everyone).not.toContain("hugo@example.fr");
  });
});
