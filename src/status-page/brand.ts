/**
 * The workspace's brand on its status page: name, accent colour, logo and favicon. Settings are
 * stored on the workspace; the images in brand_assets, served by their hash from the page's
 * snapshot (so serving them never reads the database).
 */
import { createHash } from "node:crypto";
import { and, eq } from "drizzle-orm";
import { imageSize } from "image-size";
import {
  acceptImage,
  assetFileName,
  type Brand,
  type BrandAssetKind,
  type DetectedImage,
  type ImageType,
} from "../core/brand.ts";
import type { Db } from "../storage/database.ts";
import { brandAssets, workspaces } from "../storage/schema.ts";

export interface BrandAsset {
  kind: BrandAssetKind;
  contentType: ImageType;
  width: number;
  height: number;
  body: Buffer;
  /** where the page links it: /brand/logo-<hash>.png */
  path: string;
}

/** The brand as the page draws it: the settings, and the current images with their addresses. */
export interface PageBrand {
  name?: string;
  accent?: string;
  logo?: BrandAsset;
  favicon?: BrandAsset;
}

export async function loadPageBrand(db: Db, workspaceId: string, brand: Brand): Promise<PageBrand> {
  const rows =
    brand.logo || brand.favicon
      ? await db.select().from(brandAssets).where(eq(brandAssets.workspaceId, workspaceId))
      : [];
  const asset = (kind: BrandAssetKind): BrandAsset | undefined => {
    const ref = brand[kind];
    const row = rows.find((r) => r.kind === kind && r.sha256 === ref?.sha256);
    return ref && row
      ? {
          kind,
          contentType: ref.contentType,
          width: ref.width,
          height: ref.height,
          body: row.body,
          path: `/brand/${assetFileName(kind, ref)}`,
        }
      : undefined;
  };
  return { name: brand.name, accent: brand.accent, logo: asset("logo"), favicon: asset("favicon") };
}

export async function readBrand(db: Db, workspaceId: string): Promise<Brand> {
  const [row] = await db
    .select({ brand: workspaces.brand })
    .from(workspaces)
    .where(eq(workspaces.id, workspaceId));
  return row?.brand ?? {};
}

/** The brand, its workspace row locked: two edits at once each keep the other's change. */
async function lockedBrand(tx: Db, workspaceId: string): Promise<Brand> {
  const [row] = await tx
    .select({ brand: workspaces.brand })
    .from(workspaces)
    .where(eq(workspaces.id, workspaceId))
    .for("update");
  return row?.brand ?? {};
}

/** Name and accent: a value sets it, null clears it, absent keeps it. */
export async function saveBrandSettings(
  db: Db,
  workspaceId: string,
  change: { name?: string | null; accent?: string | null },
): Promise<Brand> {
  return db.transaction(async (tx) => {
    const brand = { ...(await lockedBrand(tx, workspaceId)) };
    for (const key of ["name", "accent"] as const) {
      const value = change[key];
      if (value === null) delete brand[key];
      else if (value !== undefined) brand[key] = value;
    }
    await tx.update(workspaces).set({ brand }).where(eq(workspaces.id, workspaceId));
    return brand;
  });
}

/** What image the bytes are, read from their header (image-size); undefined when none it knows. */
function detectImage(bytes: Buffer): DetectedImage | undefined {
  try {
    const { type, width, height } = imageSize(bytes);
    return type ? { type, width, height } : undefined;
  } catch {
    return undefined;
  }
}

/** Stores an image after checking its bytes; the same bytes again change nothing. */
export async function saveBrandAsset(
  db: Db,
  workspaceId: string,
  kind: BrandAssetKind,
  body: Buffer,
  now: Date,
): Promise<Brand> {
  const { contentType, width, height } = acceptImage(kind, body.length, detectImage(body));
  const sha256 = createHash("sha256").update(body).digest("hex");
  return db.transaction(async (tx) => {
    await tx
      .insert(brandAssets)
      .values({ workspaceId, kind, contentType, sha256, body, updatedAt: now })
      .onConflictDoUpdate({
        target: [brandAssets.workspaceId, brandAssets.kind],
        set: { contentType, sha256, body, updatedAt: now },
      });
    const brand: Brand = {
      ...(await lockedBrand(tx, workspaceId)),
      [kind]: { contentType, sha256, width, height },
    };
    await tx.update(workspaces).set({ brand }).where(eq(workspaces.id, workspaceId));
    return brand;
  });
}

export async function deleteBrandAsset(db: Db, workspaceId: string, kind: BrandAssetKind): Promise<Brand> {
  return db.transaction(async (tx) => {
    await tx
      .delete(brandAssets)
      .where(and(eq(brandAssets.workspaceId, workspaceId), eq(brandAssets.kind, kind)));
    const brand = { ...(await lockedBrand(tx, workspaceId)) };
    delete brand[kind];
    await tx.update(workspaces).set({ brand }).where(eq(workspaces.id, workspaceId));
    return brand;
  });
}
