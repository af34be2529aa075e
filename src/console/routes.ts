/**
 * Serves the operator's console (console/dist, built by `npm run build`) under /admin: hashed
 * assets cached for a year, every other /admin path answered with index.html so the app's own
 * router takes over, and a strict Content-Security-Policy (no inline script or style at all).
 */
import { readFile, stat } from "node:fs/promises";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply } from "fastify";

export const CONSOLE_DIST = fileURLToPath(new URL("../../console/dist", import.meta.url));

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
  ".json": "application/json",
  ".html": "text/html; charset=utf-8",
};

const secured = (reply: FastifyReply) =>
  reply
    .header("content-security-policy", CONSOLE_CSP)
    .header("x-content-type-options", "nosniff")
    .header("referrer-policy", "same-origin")
    .header("x-frame-options", "DENY");

export function consoleRoutes(dist: string = CONSOLE_DIST) {
  return async (app: FastifyInstance) => {
    let index: Buffer | undefined;
    const indexHtml = async () => {
      // Read once in production; a rebuilt console is picked up on restart.
      index ??= await readFile(join(dist, "index.html")).catch(() => undefined);
      return index;
    };
    const sendIndex = async (reply: FastifyReply) => {
      const html = await indexHtml();
      if (!html)
        return secured(reply)
          .code(503)
          .type("text/plain; charset=utf-8")
          .send("The console is not built: run `npm run build` (npm start and npm test do it for you).");
      return secured(reply).header("cache-control", "no-cache").type("text/html; charset=utf-8").send(html);
    };

    // The server ignores trailing slashes, so this also answers /admin/.
    app.get("/admin", { schema: { hide: true } }, async (_req, reply) => sendIndex(reply));
    app.get("/admin/assets/*", { schema: { hide: true } }, async (req, reply) => {
      const rel = (req.params as { "*": string })["*"];
      const file = normalize(join(dist, "assets", rel));
      if (!file.startsWith(join(dist, "assets") + sep)) return reply.callNotFound();
      const info = await stat(file).catch(() => undefined);
      if (!info?.isFile()) return reply.callNotFound();
      return secured(reply)
        .header("cache-control", "public, max-age=31536000, immutable")
        .type(TYPES[extname(file)] ?? "application/octet-stream")
        .send(await readFile(file));
    });
    app.get("/admin/*", { schema: { hide: true } }, async (_req, reply) => sendIndex(reply));
  };
}
