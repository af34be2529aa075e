import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { mayGrant } from "../access/permissions.ts";
import { AmendsError, invalidField } from "../core/errors.ts";
import { principal } from "../http/auth.ts";
import type { ApiContext } from "../http/context.ts";
import { Id, Instant, InstantOut, iso } from "../http/zod.ts";
import { type ApiToken, createToken, listTokens, revokeToken, SCOPES } from "./store.ts";

const TokenOut = z.object({
  id: z.string(),
  name: z.string(),
  scopes: z.array(z.string()),
  created_at: InstantOut,
  expires_at: InstantOut.nullable(),
  last_used_at: InstantOut.nullable(),
  revoked_at: InstantOut.nullable(),
});
const tokenJson = (t: ApiToken): z.infer<typeof TokenOut> => ({
  id: t.id,
  name: t.name,
  scopes: t.scopes,
  created_at: iso(t.createdAt)!,
  expires_at: iso(t.expiresAt),
  last_used_at: iso(t.lastUsedAt),
  revoked_at: iso(t.revokedAt),
});

const TokenCreate = z.strictObject({
  name: z.string().trim().min(1).max(100),
  scopes: z.array(z.enum(SCOPES)).min(1).default(["*"]),
  expires_at: Instant.nullable().optional(),
});

export const tokenRoutes =
  (ctx: ApiContext): FastifyPluginAsyncZod =>
  async (app) => {
    const tags = ["tokens"];
    app.post(
      "/tokens",
      {
        schema: {
          operationId: "createToken",
          tags,
          summary: "Create an API token; the secret is shown once",
          body: TokenCreate,
          response: { 201: TokenOut.extend({ secret: z.string() }) },
        },
        preHandler: ctx.auth("tokens:write"),
      },
      async (req, reply) => {
        if (req.body.expires_at && req.body.expires_at <= ctx.now()) {
          throw invalidField("expires_at", "must be in the future");
        }
        // Nobody hands out more than they hold: a responder's token cannot approve money.
        if (!mayGrant(principal(req).scopes, req.body.scopes))
          throw new AmendsError("FORBIDDEN", "a token may not carry scopes beyond your own", [
            { field: "scopes", message: "beyond your own permissions" },
          ]);
        const { token, secret } = await createToken(ctx.db, {
          workspaceId: principal(req).workspaceId,
          name: req.body.name,
          scopes: req.body.scopes,
          expiresAt: req.body.expires_at ?? null,
        });
        return reply.code(201).send({ ...tokenJson(token), secret });
      },
    );
    app.get(
      "/tokens",
      {
        schema: {
          operationId: "listTokens",
          summary: "List the workspace's API tokens (never their secrets)",
          tags,
          response: { 200: z.object({ tokens: z.array(TokenOut) }) },
        },
        preHandler: ctx.auth("tokens:write"),
      },
      async (req) => ({ tokens: (await listTokens(ctx.db, principal(req).workspaceId)).map(tokenJson) }),
    );
    app.delete(
      "/tokens/:id",
      {
        schema: {
          operationId: "revokeToken",
          tags,
          summary: "Revoke a token",
          params: z.object({ id: Id }),
          response: { 200: TokenOut },
        },
        preHandler: ctx.auth("tokens:write"),
      },
      async (req) =>
        tokenJson(await revokeToken(ctx.db, principal(req).workspaceId, req.params.id, ctx.now())),
    );
  };
