/**
 * Operators' API for the page's look: the name it goes by and its accent colour (JSON), and its
 * logo and favicon (the image's own bytes as the body, checked by what they are).
 */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import {
  ACCENT_PATTERN,
  ASSET_LIMITS,
  assetFileName,
  type Brand,
  type BrandAssetKind,
  IMAGE_TYPES,
} from "../core/brand.ts";
import { AmendsError } from "../core/errors.ts";
import { principal } from "../http/auth.ts";
import type { ApiContext } from "../http/context.ts";
import { deleteBrandAsset, readBrand, saveBrandAsset, saveBrandSettings } from "./brand.ts";

const BrandOut = z.object({
  name: z.string().nullable().describe("the name the page goes by; the workspace's when null"),
  accent_color: z.string().nullable().describe("#rrggbb: buttons and the bar along the top"),
  logo_url: z.string().nullable(),
  favicon_url: z.string().nullable(),
});

const brandJson = (brand: Brand): z.infer<typeof BrandOut> => ({
  name: brand.name ?? null,
  accent_color: brand.accent ?? null,
  logo_url: brand.logo ? `/brand/${assetFileName("logo", brand.logo)}` : null,
  favicon_url: brand.favicon ? `/brand/${assetFileName("favicon", brand.favicon)}` : null,
});

const BrandPatch = z.strictObject({
  name: z
    .string()
    .trim()
    .min(1, "must not be empty")
    .max(100, "at most 100 characters")
    .nullable()
    .optional(),
  accent_color: z
    .string()
    .toLowerCase()
    .regex(ACCENT_PATTERN, "a colour as #rrggbb, e.g. #0b5cad")
    .nullable()
    .optional(),
});

const KINDS: readonly BrandAssetKind[] = ["logo", "favicon"];
// Every image type we take is read as bytes; what it really is, is decided from them (core/brand.ts).
const IMAGE_BODY_TYPES = [...Object.keys(IMAGE_TYPES), "application/octet-stream"];

export const brandRoutes =
  (ctx: ApiContext): FastifyPluginAsyncZod =>
  async (app) => {
    const tags = ["status pages"];
    app.addContentTypeParser(
      IMAGE_BODY_TYPES,
      { parseAs: "buffer", bodyLimit: ASSET_LIMITS.logo.bytes + 1 },
      (_req, body, done) => done(null, body),
    );
    app.get(
      "/brand",
      {
        schema: {
          operationId: "getBrand",
          tags,
          summary: "The status page's look: name, accent colour, logo and favicon",
          response: { 200: BrandOut },
        },
        preHandler: ctx.auth("read"),
      },
      async (req) => brandJson(await readBrand(ctx.db, principal(req).workspaceId)),
    );
    app.patch(
      "/brand",
      {
        schema: {
          operationId: "updateBrand",
          tags,
          summary: "Set or clear (null) the page's name and accent colour",
          body: BrandPatch,
          response: { 200: BrandOut },
        },
        preHandler: ctx.auth("components:write"),
      },
      async (req) => {
        const ws = principal(req).workspaceId;
        const brand = await saveBrandSettings(ctx.db, ws, {
          name: req.body.name,
          accent: req.body.accent_color,
        });
        ctx.changed(ws);
        return brandJson(brand);
      },
    );
    for (const kind of KINDS) {
      const limit = ASSET_LIMITS[kind];
      const formats = limit.types.map((t) => IMAGE_TYPES[t].toUpperCase()).join(", ");
      app.put(
        `/brand/${kind}`,
        {
          schema: {
            operationId: kind === "logo" ? "putBrandLogo" : "putBrandFavicon",
            tags,
            summary: `Upload the ${kind} (${formats}; at most ${limit.bytes / 1024} KB): the image itself is the body`,
            consumes: limit.types,
            response: { 200: BrandOut },
            "x-problems": [400, 413, 415],
          },
          bodyLimit: limit.bytes,
          preHandler: ctx.auth("components:write"),
        },
        async (req) => {
          const ws = principal(req).workspaceId;
          if (!Buffer.isBuffer(req.body))
            throw new AmendsError(
              "UNSUPPORTED_MEDIA_TYPE",
              `send the image itself as the body, with its type (${limit.types.join(", ")})`,
            );
          const brand = await saveBrandAsset(ctx.db, ws, kind, req.body, ctx.now());
          ctx.changed(ws);
          return brandJson(brand);
        },
      );
      app.delete(
        `/brand/${kind}`,
        {
          schema: {
            operationId: kind === "logo" ? "deleteBrandLogo" : "deleteBrandFavicon",
            tags,
            summary: `Remove the ${kind}`,
            response: { 200: BrandOut },
          },
          preHandler: ctx.auth("components:write"),
        },
        async (req) => {
          const ws = principal(req).workspaceId;
          const brand = await deleteBrandAsset(ctx.db, ws, kind);
          ctx.changed(ws);
          return brandJson(brand);
        },
      );
    }
  };
