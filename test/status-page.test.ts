import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openIncident, postUpdate } from "../src/core/incidents.ts";
import { insertIncident } from "../src/incidents/store.ts";
import { startTestApp, type TestApp } from "./support/app.ts";
import { BACKENDS } from "./support/backends.ts";
import {
  ComponentsDoc,
  IncidentsDoc,
  MaintenancesDoc,
  StatusDoc,
  Summary,
} from "./support/statuspage-client.ts";

const DAY = 86_400_000;

describe.each(BACKENDS)("public status page on %s", (backend) => {
  let t: TestApp;
  let openId: string;
  const get = async (url: string) => {
    const res = await t.app.inject(url);
    return { status: res.statusCode, body: res.body, json: () => res.json(), headers: res.headers };
  };

  beforeAll(async () => {
    t = await startTestApp(backend);
    await t.call("POST", "/api/v1/components", { id: "svc", name: "Car sharing" });
    await t.call("POST", "/api/v1/components", { id: "end", parent_id: "svc", name: "End rental" });
    await t.call("POST", "/api/v1/components", {
      id: "end-milan",
      parent_id: "end",
      name: "Milan",
      region: "milan",
    });
    await t.call("POST", "/api/v1/components", {
      id: "end-rome",
      parent_id: "end",
      name: "Rome",
      region: "rome",
    });
    const open = await t.call("POST", "/api/v1/incidents", {
      title: "Rentals cannot be ended in Milan <script>",
      body: "We are on it & will update.",
      components: [{ id: "end-milan", status: "major_outage" }],
      eta: new Date(Date.now() + 2 * 3_600_000).toISOString(),
      next_update_by: new Date(Date.now() + 1_800_000).toISOString(),
    });
    openId = open.json.id;
    // One resolved 3 days ago (shown), one resolved 20 days ago (too old for the page).
    for (const [id, daysAgo] of [
      ["INC-RECENT", 3],
      ["INC-OLD", 20],
    ] as const) {
      const start = new Date(Date.now() - daysAgo * DAY);
      let i = openIncident(
        {
          id,
          updateId: `${id}-1`,
          title: `Outage ${id}`,
          startedAt: start,
          update: { body: "Down", components: [{ componentId: "end-rome", status: "partial_outage" }] },
        },
        start,
      );
      i = postUpdate(
        i,
        `${id}-2`,
        { status: "resolved", body: "Back" },
        new Date(start.getTime() + 3_600_000),
      );
      await insertIncident(t.database.db, t.workspaceId, i);
    }
  });
  afterAll(() => t.close());

  it("renders the page without JavaScript, escaping operator text", async () => {
    const res = await get("/");
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toMatch(/text\/html/);
    // No script but the optional web push button's, deferred; the operator's "<script>" is escaped.
    expect(res.body.replace('<script src="/push.js" defer></script>', "")).not.toMatch(/<script/i);
    expect(res.body).toContain("Rentals cannot be ended in Milan &lt;script&gt;");
    expect(res.body).toContain("We are on it &amp; will update.");
    expect(res.body).toContain("Major Service Outage");
    expect(res.body).toContain("Expected fix:");
    expect(res.body).toContain("Next update by");
    expect(res.body).toContain("Outage INC-RECENT");
    // Older than the 14 days of past incidents: only in the popover of the day it happened.
    const past = res.body.slice(res.body.indexOf('<section aria-labelledby="past-h">'));
    expect(past).not.toContain("Outage INC-OLD");
    expect(res.body).toMatch(/class="pop-list"><span>Outage INC-OLD<\/span>/);
    for (const name of ["Car sharing", "End rental", "Milan", "Rome"]) expect(res.body).toContain(name);
  });

  it("serves every Statuspage v2 document in the documented shape", async () => {
    const summary = Summary.parse((await get("/api/v2/summary.json")).json());
    expect(summary.status.indicator).toBe("critical");
    expect(summary.incidents.map((i) => i.id)).toEqual([openId]);
    expect(summary.components.find((c) => c.id === "end")).toMatchObject({
      group: true,
      components: ["end-milan", "end-rome"],
    });
    expect(summary.components.find((c) => c.id === "end-milan")).toMatchObject({
      group_id: "end",
      status: "major_outage",
    });
    expect(summary.incidents[0]!.incident_updates[0]!.affected_components).toEqual([
      { code: "end-milan", name: "Milan", old_status: "operational", new_status: "major_outage" },
    ]);

    StatusDoc.parse((await get("/api/v2/status.json")).json());
    ComponentsDoc.parse((await get("/api/v2/components.json")).json());
    const all = IncidentsDoc.parse((await get("/api/v2/incidents.json")).json());
    expect(all.incidents.map((i) => i.id)).toEqual([openId, "INC-RECENT", "INC-OLD"]);
    const unresolved = IncidentsDoc.parse((await get("/api/v2/incidents/unresolved.json")).json());
    expect(unresolved.incidents.map((i) => i.id)).toEqual([openId]);
    for (const path of ["", "/upcoming", "/active"]) {
      MaintenancesDoc.parse((await get(`/api/v2/scheduled-maintenances${path}.json`)).json());
    }
    expect((await get("/api/v2/summary.json")).headers["access-control-allow-origin"]).toBe("*");
  });

  it("shows an update and a resolution at once", async () => {
    await t.call("POST", `/api/v1/incidents/${openId}/updates`, {
      status: "identified",
      body: "Satellite link down",
    });
    expect((await get("/")).body).toContain("Satellite link down");
    await t.call("POST", `/api/v1/incidents/${openId}/resolve`, { body: "All good" });
    const summary = Summary.parse((await get("/api/v2/summary.json")).json());
    expect(summary.status).toEqual({ indicator: "none", description: "All Systems Operational" });
    expect(summary.incidents).toEqual([]);
    expect((await get("/")).body).toContain("All good");
  });
});

describe("status page edges", () => {
  it("gives each incident a page (the Statuspage shortlink) and answers people in HTML", async () => {
    const t = await startTestApp("pglite");
    try {
      const open = await t.call("POST", "/api/v1/incidents", {
        id: "INC-7",
        title: "Payments slow",
        body: "Looking",
      });
      const summary = (await t.app.inject("/api/v2/summary.json")).json();
      const shortlink = new URL(summary.incidents[0].shortlink);
      expect(shortlink.pathname).toBe(`/incidents/${open.json.id}`);
      const page = await t.app.inject(shortlink.pathname);
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain("Payments slow");
      const missing = await t.app.inject("/incidents/nope");
      expect(missing.statusCode).toBe(404);
      expect(missing.headers["content-type"]).toMatch(/text\/html/);
      expect((await t.app.inject("/api/v1/nope")).headers["content-type"]).toMatch(/problem\+json/);
    } finally {
      await t.close();
    }
  });
});

describe("incident feeds", () => {
  it("serve RSS 2.0 and Atom with one item per incident and per maintenance window", async () => {
    const { XMLParser, XMLValidator } = await import("fast-xml-parser");
    let clock = Date.parse("2026-11-20T10:00:00Z");
    const t = await startTestApp("pglite", { now: () => new Date(clock) });
    try {
      await t.call("POST", "/api/v1/components", { id: "rentals", name: "Rentals" });
      await t.call("POST", "/api/v1/incidents", {
        id: "INC-1",
        title: "Payments <slow>",
        body: "Looking & fixing",
      });
      await t.call("POST", "/api/v1/incidents/INC-1/resolve", { body: "Fixed" });
      clock += 60_000;
      const window = await t.call("POST", "/api/v1/maintenances", {
        id: "MNT-1",
        title: "Rental backend upgrade",
        body: "Rentals cannot be started.",
        components: ["rentals"],
        starts_at: "2026-12-02T02:00:00Z",
        ends_at: "2026-12-02T04:00:00Z",
      });
      expect(window.status, JSON.stringify(window.json)).toBe(201);
      const parser = new XMLParser({ ignoreAttributes: false });
      const rss = await t.app.inject("/history.rss");
      expect(rss.headers["content-type"]).toMatch(/application\/rss\+xml/);
      expect(XMLValidator.validate(rss.body)).toBe(true);
      const channel = parser.parse(rss.body).rss;
      expect(channel["@_version"]).toBe("2.0");
      // Newest first: the window was announced after the incident.
      const [maintenance, item] = channel.channel.item;
      expect(item.title).toBe("Payments <slow> (resolved)");
      expect(item.link).toMatch(/\/incidents\/INC-1$/);
      expect(new Date(item.pubDate).getTime()).not.toBeNaN();
      expect(maintenance.title).toBe("Maintenance: Rental backend upgrade (scheduled)");
      expect(maintenance.link).toMatch(/#maintenance-MNT-1$/);
      expect(maintenance.description).toBe("2 Dec 2026, 03:00 CET to 2 Dec 2026, 05:00 CET");

      const atom = await t.app.inject("/history.atom");
      expect(XMLValidator.validate(atom.body)).toBe(true);
      const feed = parser.parse(atom.body).feed;
      expect(feed["@_xmlns"]).toBe("http://www.w3.org/2005/Atom");
      expect(feed.entry.map((e: { id: string }) => e.id)).toEqual([
        expect.stringMatching(/#maintenance-MNT-1$/),
        expect.stringMatching(/\/incidents\/INC-1$/),
      ]);
      const content = (e: { content: { "#text"?: string } | string }) =>
        typeof e.content === "string" ? e.content : e.content["#text"];
      expect(content(feed.entry[1])).toContain("Looking &amp; fixing");
      expect(content(feed.entry[0])).toContain("Affects: Rentals");
    } finally {
      await t.close();
    }
  });
});

describe("the page in the reader's language", () => {
  it("shows Italian words and the operator's Italian text to an Italian browser", async () => {
    const t = await startTestApp("pglite");
    try {
      await t.call("POST", "/api/v1/components", { id: "end", name: "End rental" });
      const open = await t.call("POST", "/api/v1/incidents", {
        title: "Rentals cannot be ended",
        body: "We are on it.",
        components: [{ id: "end", status: "major_outage" }],
        translations: { it: { title: "Impossibile terminare il noleggio", body: "Ci stiamo lavorando." } },
      });
      expect(open.json.title_translations).toEqual({ it: "Impossibile terminare il noleggio" });
      const it = await t.app.inject({ url: "/", headers: { "accept-language": "it-IT,it;q=0.9,en;q=0.5" } });
      expect(it.headers["content-language"]).toBe("it");
      expect(it.body).toContain('<html lang="it">');
      expect(it.body).toContain("Impossibile terminare il noleggio");
      expect(it.body).toContain("Ci stiamo lavorando.");
      expect(it.body).toContain("Disservizio grave");
      expect(it.body).toContain("Interruzione grave");
      const de = await t.app.inject({ url: "/?lang=de", headers: { "accept-language": "it" } });
      expect(de.body).toContain("Schwerer Ausfall");
      expect(de.body).toContain("Rentals cannot be ended"); // no German text: the original
      const en = await t.app.inject({ url: "/", headers: { "accept-language": "ja" } });
      expect(en.body).toContain("Major Service Outage");
      const bad = await t.call("POST", "/api/v1/incidents", {
        title: "x",
        body: "y",
        translations: { italian: { body: "z" } },
      });
      expect(bad.status).toBe(400);
    } finally {
      await t.close();
    }
  });
});

describe("badge and widget", () => {
  it("serve an SVG badge of the indicator and a script that shows it elsewhere", async () => {
    const t = await startTestApp("pglite");
    try {
      const { XMLValidator } = await import("fast-xml-parser");
      const badge = await t.app.inject("/badge.svg");
      expect(badge.headers["content-type"]).toMatch(/image\/svg\+xml/);
      expect(XMLValidator.validate(badge.body)).toBe(true);
      expect(badge.body).toContain("All Systems Operational");
      expect(
        (await t.app.inject({ url: "/badge.svg", headers: { "accept-language": "de" } })).body,
      ).toContain("Alle Systeme betriebsbereit");
      const widget = await t.app.inject("/widget.js");
      expect(widget.headers["content-type"]).toMatch(/javascript/);
      expect(widget.body).toContain("/api/v2/status.json");
    } finally {
      await t.close();
    }
  });
});

describe("language addresses", () => {
  it("serve each language under its code and link between them", async () => {
    const t = await startTestApp("pglite");
    try {
      await t.call("POST", "/api/v1/incidents", {
        id: "INC-9",
        title: "Slow",
        body: "x",
        translations: { fr: { title: "Lent" } },
      });
      const fr = await t.app.inject("/fr/");
      expect(fr.statusCode).toBe(200);
      expect(fr.body).toContain('<html lang="fr">');
      expect(fr.body).toContain('href="/fr/incidents/INC-9"');
      expect(fr.body).toContain('href="/it/"');
      expect((await t.app.inject("/fr/incidents/INC-9")).body).toContain("Lent");
      expect((await t.app.inject("/xx/")).statusCode).toBe(404);
      expect((await t.app.inject("/nothing-here")).statusCode).toBe(404);
    } finally {
      await t.close();
    }
  });
});
