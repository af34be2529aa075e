/** Text helpers shared by the channels with length limits (SMS-like, social posts, chat). */
import { createHash } from "node:crypto";

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/**
 * How a service counts: user-visible characters (Bluesky, Mastodon) or UTF-16 code units
 * (JavaScript `length`, what Slack, Discord and Telegram limits amount to in practice).
 */
export type Unit = "grapheme" | "utf16";

export const graphemeLength = (s: string) => [...graphemes.segment(s)].length;
const measure = (s: string, unit: Unit) => (unit === "grapheme" ? graphemeLength(s) : s.length);

/** Cuts `s` to at most `max` units, ending with "…" when cut; never splits an accent or an emoji. */
export function truncate(s: string, max: number, unit: Unit = "utf16"): string {
  if (measure(s, unit) <= max) return s;
  let out = "";
  let used = 0;
  for (const { segment } of graphemes.segment(s)) {
    const size = unit === "grapheme" ? 1 : segment.length;
    if (used + size > max - 1) break; // one unit is kept for the ellipsis
    out += segment;
    used += size;
  }
  return `${out.trimEnd()}…`;
}

/**
 * The text of a post that must fit in `max` units and still carry the URL: the text is cut,
 * never the link (a cut link is a broken link), and the link goes last. `urlSize` is how much a
 * link counts (Mastodon counts every link as 23 characters, whatever its length).
 */
export function fitWithUrl(
  text: string,
  url: string | undefined,
  max: number,
  unit: Unit,
  urlSize = url ? measure(url, unit) : 0,
): string {
  if (!url) return truncate(text, max, unit);
  const pieces = text.split(url);
  const size = measure(pieces.join(""), unit) + (pieces.length - 1) * urlSize;
  if (pieces.length > 1 && size <= max) return text;
  const rest = pieces
    .map((p) => p.trim())
    .filter(Boolean)
    .join(" ");
  if (pieces.length === 1 && size + 1 + urlSize <= max) return `${rest}\n${url}`;
  return `${truncate(rest, Math.max(max - urlSize - 1, 0), unit)}\n${url}`;
}

/** A stable digest of an idempotency key, for ids with a restricted alphabet or length. */
export const keyDigest = (key: string): Buffer => createHash("sha256").update(key).digest();
