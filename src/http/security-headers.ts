/**
 * A strict Content-Security-Policy on every HTML response: scripts, styles, images and fetches
 * from this origin only, no inline script at all, no framing, forms posting here only. Our
 * pages carry one inline <style> each; those are allowed by their SHA-256, not 'unsafe-inline'.
 */
import { createHash } from "node:crypto";
import type { FastifyInstance } from "fastify";

const hashOf = (css: string) => `'sha256-${createHash("sha256").update(css).digest("base64")}'`;
const STYLE_BLOCK = /<style>([\s\S]*?)<\/style>/g;

export function contentSecurityPolicy(styleHashes: string[] = []): string {
  const styles = [...new Set(styleHashes)].join(" ");
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

/** The policy for an HTML page, allowing each of its inline <style> blocks by hash. */
export const contentSecurityPolicyFor = (page: string) =>
  contentSecurityPolicy([...page.matchAll(STYLE_BLOCK)].map((m) => hashOf(m[1]!)));

export function installSecurityHeaders(app: FastifyInstance): void {
  app.addHook("onSend", async (_req, reply, payload) => {
    reply.header("x-content-type-options", "nosniff");
    reply.header("referrer-policy", "same-origin");
    if (!/^text\/html/.test(String(reply.getHeader("content-type") ?? ""))) return payload;
    // A pre-compressed page brings its own policy (status-page/snapshot.ts); any other is read here.
    if (!reply.hasHeader("content-security-policy"))
      reply.header(
        "content-security-policy",
        typeof payload === "string" ? contentSecurityPolicyFor(payload) : contentSecurityPolicy(),
      );
    reply.header("x-frame-options", "DENY");
    return payload;
  });
}
