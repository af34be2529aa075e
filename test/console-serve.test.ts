/**
 * How the server serves the console under /admin, without a browser: the CSP on every answer,
 * the SPA fallback, no way out of the assets folder, and a clear 503 when it was never built.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildServer } from "../src/http/server.ts";
import type { Database } from "../src/storage/database.ts";
import { freshDatabase } from "./support/backends.ts";

describe("serving the console", () => {
  let database: Database;
  let built: FastifyInstance;
  let unbuilt: FastifyInstance;

  beforeAll(async () => {
    const dist = mkdtempSync(join(tmpdir(), "amends-console-"));
    mkdirSync(join(dist, "assets"));
    writeFileSync(
      join(dist, "index.html"),
      '<script type="module" src="/admin/assets/app-abc123.js"></script>',
    );
    writeFileSync(join(dist, "assets", "app-abc123.js"), "console.log(1)");
    writeFileSync(join(dist, "secret.txt"), "not an asset");
    database = await freshDatabase("pglite");
    built = await buildServer({ database, consoleDir: dist });
    unbuilt = await buildServer({ database, consoleDir: join(dist, "missing") });
  });
  afterAll(async () => {
    await built.close();
    await unbuilt.close();
    await database.close();
  });

  it("answers every /admin path with the app, never cached, under a CSP without inline code", async () => {
    for (const url of ["/admin", "/admin/", "/admin/compensation/run_1", "/admin/setup?token=x"]) {
      const res = await built.inject({ url });
      expect(res.statusCode, url).toBe(200);
      expect(res.body).toContain("/admin/assets/app-abc123.js");
      expect(res.headers["cache-control"]).toBe("no-cache");
      const csp = String(res.headers["content-security-policy"]);
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain("unsafe");
    }
  });

  it("caches hashed assets for a year and serves nothing outside the assets folder", async () => {
    const js = await built.inject({ url: "/admin/assets/app-abc123.js" });
    expect(js.statusCode).toBe(200);
    expect(js.headers["content-type"]).toContain("text/javascript");
    expect(js.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    // A dot-dot path is either normalised into the app's fallback or refused; never the file.
    for (const url of [
      "/admin/assets/../secret.txt",
      "/admin/assets/%2e%2e/secret.txt",
      "/admin/assets/..%2fsecret.txt",
    ]) {
      const res = await built.inject({ url });
      expect(res.body, url).not.toContain("not an asset");
    }
    expect((await built.inject({ url: "/admin/assets/nope.js" })).statusCode).toBe(404);
  });

  it("says how to build the console when it is missing", async () => {
    const res = await unbuilt.inject({ url: "/admin/" });
    expect(res.statusCode).toBe(503);
    expect(res.body).toContain("npm run build");
  });
});
