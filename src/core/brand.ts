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
  /** pixels (an SVG's own units): the page reserves the image's box before it loads */
  width: number;
  height: number;
}

/** The types we take, by the name image-size gives them. */
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

/** What the bytes were found to be (by image-size, at the edge); undefined when not an image it knows. */
export interface DetectedImage {
  type: string;
  width?: number;
  height?: number;
}

const formatsOf = (kind: BrandAssetKind) =>
  ASSET_LIMITS[kind].types
    .map((t) =>
      t === "image/svg+xml" ? "SVG (with a viewBox or a width and height)" : IMAGE_TYPES[t].toUpperCase(),
    )
    .join(", ");

/** Checks an uploaded image for its kind, by what its bytes are; returns its type and size or throws naming the field. */
export function acceptImage(
  kind: BrandAssetKind,
  size: number,
  detected: DetectedImage | undefined,
): { contentType: ImageType; width: number; height: number } {
  const limit = ASSET_LIMITS[kind];
  if (size === 0) throw invalidField(kind, "the image is empty");
  if (size > limit.bytes)
    throw invalidField(kind, `at most ${limit.bytes / 1024} KB (this one is ${Math.ceil(size / 1024)} KB)`);
  const contentType = limit.types.find((t) => IMAGE_TYPES[t] === detected?.type);
  if (!contentType || !detected?.width || !detected.height)
    throw invalidField(
      kind,
      `must be ${formatsOf(kind)}${detected && !contentType ? ` (this one is ${detected.type.toUpperCase()})` : ""}`,
    );
  return { contentType, width: detected.width, height: detected.height };
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
