/**
 * The report form's signed timestamp: when the page carrying the form was rendered, signed
 * with the workspace's link secret so it cannot be forged. A post that comes back faster than
 * a person can fill the form in, or days later, is refused. Pages are rendered once per
 * snapshot (at most ~15 s old), so the check is loose by that much and no per-request state
 * is needed: the cached page stays cached.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

const mac = (secret: string, ms: number) =>
  createHmac("sha256", secret).update(`report-form:${ms}`).digest("base64url").slice(0, 22);

/**
 * Where the token sits in a rendered page. It is the only part of a page that changes with
 * every render, so the page's ETag leaves it out (and is weak): a reader revalidating an
 * unchanged page gets 304 and keeps an older token, which only loosens the check by that age.
 */
export const FORM_TIME_FIELD = /name="ft" value="[^"]*"/g;

export const signFormTime = (secret: string, at: Date) => `${at.getTime()}.${mac(secret, at.getTime())}`;

/** The time the form was rendered, or undefined when the token is missing or forged. */
export function readFormTime(secret: string, token: string | undefined): number | undefined {
  const [msText, sig] = (token ?? "").split(".");
  const ms = Number(msText);
  if (!sig || !Number.isSafeInteger(ms)) return undefined;
  const want = Buffer.from(mac(secret, ms));
  const got = Buffer.from(sig);
  return want.length === got.length && timingSafeEqual(want, got) ? ms : undefined;
}
