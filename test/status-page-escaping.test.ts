/**
 * Operator text is hostile to readers of every public document: feeds (Atom, RSS), iCal and the
 * HTML page carry it as text, never as markup, and it reads as the operator typed it.
 */
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import { startTestApp } from "./support/app.ts";

const PAYLOADS = [
  "<script>alert(1)</script>",
  "<img src=x onerror=alert(1)>",
  '<a href="javascript:alert(1)">x</a>',
  "]]>",
  "&amp;",
];
const TITLE = `Down ${PAYLOADS.join(" ")}`;
const BODY = `Body ${PAYLOADS.join(" ")}`;
const MAINTENANCE = `Upgrade ${PAYLOADS.join(" ")}`;

/** HTML's own escapes, undone: what a reader shows of an HTML-typed text. */
const unescapeHtml = (s: string) =>
  s.replace(
    /&(lt|gt|quot|#39|amp);/g,
    (_, e: string) => ({ lt: "<", gt: ">", quot: '"', "#39": "'", amp: "&" })[e]!,
  );

/** Every element name and attribute anywhere in a parsed document. */
function markup(node: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(node)) for (const n of node) markup(n, out);
  else if (node && typeof node === "object")
    for (const [k, v] of Object.entries(node)) {
      out.add(k);
      markup(v, out);
    }
  return out;
}

const textOf = (v: unknown): string =>
  typeof v === "string" ? v : String((v as { "#text"?: unknown })["#text"] ?? "");

describe("operator text in public documents", () => {
  it("is text in Atom, RSS, iCal and HTML, whatever it looks like", async () => {
    const t = await startTestApp("pglite", { now: () => new Date("2026-11-20T10:00:00Z") });
    try {
      await t.call("POST", "/api/v1/components", { id: "rentals", name: "Rentals <b>bold</b>" });
      const incident = await t.call("POST", "/api/v1/incidents", {
        id: "INC-1",
        title: TITLE,
        body: BODY,
        components: [{ id: "rentals", status: "major_outage" }],
      });
      expect(incident.status, JSON.stringify(incident.json)).toBe(201);
      const window = await t.call("POST", "/api/v1/maintenances", {
        id: "MNT-1",
        title: MAINTENANCE,
        body: BODY,
        components: ["rentals"],
        starts_at: "2026-12-02T02:00:00Z",
        ends_at: "2026-12-02T04:00:00Z",
      });
      expect(window.status, JSON.stringify(window.json)).toBe(201);
      const parser = new XMLParser({ ignoreAttributes: false });
      const forbidden = ["script", "img", "a", "b", "@_onerror", "@_href", "@_src"];

      const atom = (await t.app.inject("/history.atom")).body;
      expect(XMLValidator.validate(atom)).toBe(true);
      const feed = parser.parse(atom).feed;
      const atomMarkup = markup(feed);
      for (const name of forbidden.filter((n) => n !== "@_href")) expect(atomMarkup).not.toContain(name);
      const [maintenanceEntry, incidentEntry] = feed.entry;
      expect(incidentEntry.title["@_type"]).toBe("text");
      expect(textOf(incidentEntry.title)).toBe(TITLE);
      expect(incidentEntry.summary["@_type"]).toBe("text");
      expect(textOf(incidentEntry.summary)).toBe(BODY);
      expect(textOf(maintenanceEntry.title)).toBe(`Maintenance: ${MAINTENANCE} (scheduled)`);
      // The timeline is HTML made of escaped text only: no tag of the payload survives in it.
      for (const entry of feed.entry) {
        expect(entry.content["@_type"]).toBe("html");
        const html = textOf(entry.content);
        expect(html).not.toMatch(/<(script|img|a|b)[\s>]/);
        expect(unescapeHtml(html)).toContain(BODY);
      }
      // Only our own links carry an href.
      for (const link of [feed.link, ...feed.entry.map((e: { link: unknown }) => e.link)].flat())
        expect((link as { "@_href": string })["@_href"]).toMatch(/^http:\/\/localhost(:\d+)?\//);

      const rss = (await t.app.inject("/history.rss")).body;
      expect(XMLValidator.validate(rss)).toBe(true);
      const channel = parser.parse(rss).rss.channel;
      const rssMarkup = markup(channel);
      for (const name of forbidden.filter((n) => n !== "@_href")) expect(rssMarkup).not.toContain(name);
      expect(channel["atom:link"]["@_href"]).toMatch(/^http:\/\/localhost(:\d+)?\//);
      const [maintenanceItem, incidentItem] = channel.item;
      expect(incidentItem.title).toBe(TITLE);
      expect(maintenanceItem.title).toBe(`Maintenance: ${MAINTENANCE} (scheduled)`);
      // A description is HTML: the payload is escaped in it, and reads as typed once shown.
      expect(incidentItem.description).not.toMatch(/<(script|img|a)[\s>]/);
      expect(unescapeHtml(incidentItem.description)).toBe(BODY);
      expect(incidentItem["content:encoded"]).not.toMatch(/<(script|img|a|b)[\s>]/);

      // iCal has no markup; its text escapes (RFC 5545) undone give the title and body as typed.
      const ics = (await t.app.inject("/maintenance.ics")).body.replace(/\r\n[ \t]/g, "");
      const field = (name: string) =>
        new RegExp(`^${name}:(.*)$`, "m")
          .exec(ics)![1]!
          .replace(/\\([,;\\])/g, "$1")
          .replace(/\\n/gi, "\n");
      expect(field("SUMMARY")).toBe(MAINTENANCE);
      expect(field("DESCRIPTION")).toBe(BODY);

      // The HTML page and the incident's own page: escaped text, never a tag from the payload.
      for (const url of ["/", "/incidents/INC-1", "/it/"]) {
        const page = (await t.app.inject(url)).body;
        expect(page).not.toMatch(/<script>alert|<img src=x|<a href="javascript|<b>bold/);
        expect(page).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
        expect(page).toContain("&lt;img src=x onerror=alert(1)&gt;");
        expect(page).toContain("&amp;amp;");
        expect(page).toContain("Rentals &lt;b&gt;bold&lt;/b&gt;");
      }
    } finally {
      await t.close();
    }
  });
});

describe("a host name with a trailing dot", () => {
  it("is the same host: it finds its page and never reaches the page's links", async () => {
    const t = await startTestApp("pglite");
    try {
      await t.call("POST", "/api/v1/components", { id: "milan", name: "Milan" });
      await t.call("POST", "/api/v1/components", { id: "rome", name: "Rome" });
      const page = await t.call("POST", "/api/v1/status-pages", {
        id: "milan",
        name: "The Fleet Milan",
        hostname: "status.example.com",
        components: ["milan"],
      });
      expect(page.status, JSON.stringify(page.json)).toBe(201);
      await t.call("POST", "/api/v1/incidents", {
        id: "INC-M",
        title: "Milan slow",
        body: "Looking",
        components: [{ id: "milan", status: "degraded_performance" }],
      });
      for (const host of ["status.example.com.", "STATUS.example.com.", "status.example.com.:8080"]) {
        const get = (url: string) => t.app.inject({ url, headers: { host } });
        const summary = (await get("/api/v2/summary.json")).json();
        expect(summary.page.name).toBe("The Fleet Milan");
        expect(summary.components.map((c: { id: string }) => c.id)).toEqual(["milan"]);
        for (const url of [
          "/api/v2/summary.json",
          "/history.atom",
          "/history.rss",
          "/maintenance.ics",
          "/widget.js",
        ]) {
          const body = (await get(url)).body;
          expect(body, url).not.toMatch(/example\.com\./i);
        }
        expect(summary.incidents[0].shortlink).toMatch(
          /^http:\/\/status\.example\.com(:8080)?\/incidents\/INC-M$/,
        );
      }
      // The default page, reached by any other name with a dot, links without it too.
      const other = await t.app.inject({
        url: "/api/v2/incidents.json",
        headers: { host: "fleet.example." },
      });
      expect(other.json().incidents[0].shortlink).toBe("http://fleet.example/incidents/INC-M");
    } finally {
      await t.close();
    }
  });
});
