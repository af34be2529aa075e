import { request } from "node:http";
import type { AddressInfo } from "node:net";
import { brotliDecompressSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "./support/app.ts";

/** A GET over real HTTP (inject goes around the lane): the raw bytes and headers. */
function get(port: number, path: string, headers: Record<string, string> = {}) {
  return new Promise<{
    status: number;
    headers: Record<string, string | string[] | undefined>;
    body: Buffer;
  }>((resolve, reject) => {
    request({ port, host: "127.0.0.1", path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    })
      .on("error", reject)
      .end();
  });
}

describe("the fast lane in front of the public page", () => {
  let t: TestApp;
  let port: number;
  const laneHits = async () =>
    Number(
      /amends_http_fast_lane_responses_total (\d+)/.exec((await t.app.inject("/metrics")).body)?.[1] ?? NaN,
    );

  beforeAll(async () => {
    t = await startTestApp("pglite");
    await t.app.listen({ port: 0, host: "127.0.0.1" });
    port = (t.app.server.address() as AddressInfo).port;
    await t.call("POST", "/api/v1/components", { id: "app", name: "App" });
  });
  afterAll(async () => {
    t.app.server.closeAllConnections();
    await t.close();
  });

  it("repeats Fastify's answer byte for byte, headers included, and answers 304 itself", async () => {
    const asks = { "accept-encoding": "br, gzip", "accept-language": "it" };
    const before = await laneHits();
    const first = await get(port, "/", asks);
    const second = await get(port, "/", asks);
    expect(await laneHits()).toBe(before + 1);
    expect(second.status).toBe(200);
    expect(second.body.equals(first.body)).toBe(true);
    const { date: _a, ...firstHeaders } = first.headers;
    const { date: _b, ...secondHeaders } = second.headers;
    expect(secondHeaders).toEqual(firstHeaders);
    expect(second.headers["content-security-policy"]).toMatch(/default-src 'none'/);
    expect(second.headers["content-language"]).toBe("it");

    // Another language is another answer, not the Italian one repeated.
    const english = await get(port, "/", { ...asks, "accept-language": "en" });
    expect(english.headers["content-language"]).toBe("en");

    const revalidated = await get(port, "/", { ...asks, "if-none-match": String(first.headers.etag) });
    expect(revalidated.status).toBe(304);
    expect(revalidated.body.length).toBe(0);
    expect(revalidated.headers.etag).toBe(first.headers.etag);
    expect(revalidated.headers["cache-control"]).toBe(first.headers["cache-control"]);
  });

  it("never repeats an answer from before a change: the next request sees it", async () => {
    const asks = { "accept-encoding": "br" };
    const summary = async () =>
      JSON.parse(brotliDecompressSync((await get(port, "/api/v2/summary.json", asks)).body).toString());
    await summary();
    expect((await summary()).status.indicator).toBe("none");
    const opened = await t.call("POST", "/api/v1/incidents", {
      title: "App down",
      body: "x",
      components: [{ id: "app", status: "major_outage" }],
    });
    expect(opened.status).toBe(201);
    expect((await summary()).status.indicator).toBe("critical");
    await t.call("POST", `/api/v1/incidents/${opened.json.id}/updates`, { status: "resolved", body: "ok" });
    expect((await summary()).status.indicator).toBe("none");
  });

  it("keeps private pages and signed-in requests out", async () => {
    const page = await t.call("POST", "/api/v1/status-pages", {
      id: "office",
      name: "Office",
      components: ["app"],
      ip_allow: ["127.0.0.0/8"],
    });
    expect(page.status, JSON.stringify(page.json)).toBe(201);
    const before = await laneHits();
    for (let i = 0; i < 3; i++) {
      const res = await get(port, "/p/office/");
      expect(res.status).toBe(200);
      expect(res.headers["cache-control"]).toBe("private, no-cache");
    }
    await get(port, "/", { cookie: "a=b" });
    await get(port, "/", { cookie: "a=b" });
    expect(await laneHits()).toBe(before);
  });
});
