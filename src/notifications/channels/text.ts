/** Text helpers shared by the channels with length limits (SMS-like, social posts, chat). */
import { createHash } from "node:crypto";

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

export const graphemeLength = (s: string) => [...graphemes.segment(s)].length;

/** Cuts `s` to at most `max` user-visible characters, ending with "…" when cut. */
export function truncate(s: string, max: number, count: (s: string) => number = graphemeLength): string {
  if (count(s) <= max) return s;
  const parts = [...graphemes.segment(s)].map((g) => g.segment);
  // graphemes are never split, so the cut never breaks an accent or an emoji in two
  let lo = 0;
  let hi = parts.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (count(`${parts.slice(0, mid).join("").trimEnd()}…`) <= max) lo = mid;
    else hi = mid - 1;
  }
  return `${parts.slice(0, lo).join("").trimEnd()}…`;
}

/**
 * The text of a post that must fit in `max` characters and end with the URL: the text is cut,
 * never the link (a cut link is a broken link). URLs already in the text are kept as they are.
 */
export function fitWithUrl(
  text: string,
  url: string | undefined,
  max: number,
  count: (s: string) => number = graphemeLength,
): string {
  if (!url || text.includes(url)) return truncate(text, max, count);
  const room = max - count(url) - 1;
  return `${truncate(text, Math.max(room, 0), count)}\n${url}`.trimStart();
}

/** A stable URL-safe digest of an idempotency key, for ids with a restricted alphabet or length. */
export const keyDigest = (key: string): Buffer => createHash("sha256").update(key).digest();

export const escapeHtml = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
