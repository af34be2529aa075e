/**
 * A workspace's look on its status page: the name it goes by, an accent colour, a logo and a
 * favicon. What is decided here: which images are accepted (by their bytes, not by what the
 * client says they are) and which text colour reads on the accent.
 */
import { invalidField } from "./errors.ts";

export type BrandAssetKind = "logo" | "favicon";

/** What a workspace stores (workspaces.brand); the images' bytes live in brand_assets. */
export interface Brand {
  name?: string;
  /** #rrggbb */
  accent?: string;
  logo?: BrandAssetRef;
  favicon?: BrandAssetRef;
}

export interface BrandAssetRef {
  contentType: ImageType;
  /** hex SHA-256 of the bytes: the file's address changes with them, so it may be cached for ever */
  sha256: string;
}

export const IMAGE_TYPES = {
  "image/png": "png",
  "image/jpeg": "jpg",
  "image/webp": "webp",
  "image/x-icon": "ico",
  "image/svg+xml": "svg",
} as const;
export type ImageType = keyof typeof IMAGE_TYPES;

export const ASSET_LIMITS: Record<BrandAssetKind, { bytes: number; types: readonly ImageType[] }> = {
  logo: { bytes: 256 * 1024, types: ["image/png", "image/jpeg", "image/webp", "image/svg+xml"] },
  favicon: { bytes: 64 * 1024, types: ["image/png", "image/x-icon", "image/svg+xml"] },
};

const startsWith = (bytes: Uint8Array, prefix: readonly number[], at = 0) =>
  prefix.every((b, i) => bytes[at + i] === b);

/** The image type the bytes are, whatever the request said; undefined when none we take. */
export function sniffImage(bytes: Uint8Array): ImageType | undefined {
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return "image/png";
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return "image/jpeg";
  if (startsWith(bytes, [0x52, 0x49, 0x46, 0x46]) && startsWith(bytes, [0x57, 0x45, 0x42, 0x50], 8))
    return "image/webp";
  if (startsWith(bytes, [0x00, 0x00, 0x01, 0x00])) return "image/x-icon";
  // SVG is text: an XML declaration, comments or a doctype may come before the <svg> root.
  const head = new TextDecoder("utf-8", { fatal: false }).decode(bytes.subarray(0, 2048));
  if (/^\uFEFF?\s*(<\?xml[^>]*\?>\s*)?(<!--[\s\S]*?-->\s*|<!DOCTYPE[^>]*>\s*)*<svg[\s>]/i.test(head))
    return "image/svg+xml";
  return undefined;
}

/** Checks an uploaded image for its kind; returns its real type or throws naming the field. */
export function acceptImage(kind: BrandAssetKind, bytes: Uint8Array): ImageType {
  const limit = ASSET_LIMITS[kind];
  if (bytes.length === 0) throw invalidField(kind, "the image is empty");
  if (bytes.length > limit.bytes)
    throw invalidField(
      kind,
      `at most ${limit.bytes / 1024} KB (this one is ${Math.ceil(bytes.length / 1024)} KB)`,
    );
  const type = sniffImage(bytes);
  if (!type || !limit.types.includes(type))
    throw invalidField(
      kind,
      `must be ${limit.types.map((t) => IMAGE_TYPES[t].toUpperCase()).join(", ")}${type ? ` (this one is ${IMAGE_TYPES[type].toUpperCase()})` : ""}`,
    );
  return type;
}

/** The file name an asset is served under: its kind, the start of its hash, its type's extension. */
export const assetFileName = (kind: BrandAssetKind, ref: BrandAssetRef) =>
  `${kind}-${ref.sha256.slice(0, 16)}.${IMAGE_TYPES[ref.contentType]}`;

export const ACCENT_PATTERN = /^#[0-9a-f]{6}$/;

/** WCAG 2 relative luminance of #rrggbb. */
function luminance(hex: string): number {
  const channel = (i: number) => {
    const c = Number.parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
}

export const contrastRatio = (a: string, b: string) => {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
};

/**
 * The text colour on the accent (buttons): white or black, whichever reads better. One of the
 * two always reaches 4.58:1, so any accent a company picks stays legible (WCAG AA, 4.5:1).
 */
export const textOnAccent = (accent: string) =>
  contrastRatio(accent, "#ffffff") >= contrastRatio(accent, "#000000") ? "#ffffff" : "#000000";
