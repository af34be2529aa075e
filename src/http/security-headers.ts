/**
 * A strict Content-Security-Policy on every HTML response: scripts, styles, images and fetches
 * from this origin only, no inline script at all, no framing, forms posting here only. Our
 * pages carry one inline <style> each; those are allowed by their SHA-256, not 'unsafe-inline'.
 */
import { createHash } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { STYLE as STATUS_PAGE_STYLE } from "../status-page/render-html.ts";

const hashOf = (css: string) => `'sha256-${createHash("sha256").update(css).digest("base64")}'`;
// The status page is served pre-compressed, so its style is known up front rather than read from the body.
const KNOWN_STYLES = [hashOf(STATUS_PAGE_STYLE)];
const STYLE_BLOCK = /<style>([\s\S]*?)<\/style>/g;

export function contentSecurityPolicy(styleHashes: string[] = []): string {
  const styles = [...new Set([...KNOWN_STYLES, ...styleHashes])].join(" ");
  return [
    "default-src 'none'",
    "script-src 'self'",
    `style-src 'self' ${styles}`,
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "manifest-src 'self'",
    "worker-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join("; ");
}

export function installSecurityHeaders(app: FastifyInstance): void {
  app.addHook("onSend", async (_req, reply, payload) => {
    reply.header("x-content-type-options", "nosniff");
    reply.header("referrer-policy", "same-origin");
    if (!/^text\/html/.test(String(reply.getHeader("content-type") ?? ""))) return payload;
    const hashes =
      typeof payload === "string" ? [...payload.matchAll(STYLE_BLOCK)].map((m) => hashOf(m[1]!)) : [];
    reply.header("content-security-policy", contentSecurityPolicy(hashes));
    reply.header("x-frame-options", "DENY");
    return payload;
  });
}
