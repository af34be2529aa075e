/**
 * Bearer-token authentication for /api/v1. A route names the scope it needs; the token's
 * workspace becomes the request's workspace. The local secret is how the `amends` CLI on
 * the same machine talks to its own server (it is written to a 0600 file beside the data).
 */
import { timingSafeEqual } from "node:crypto";
import type { FastifyRequest, preHandlerAsyncHookHandler } from "fastify";
import { AmendsError } from "../core/errors.ts";
import type { Db } from "../storage/database.ts";
import { allows, findLiveToken, type Scope, touchToken } from "../tokens/store.ts";
import { requireWorkspace } from "../workspaces/store.ts";

export interface Principal {
  workspaceId: string;
  tokenId: string;
  scopes: string[];
}

declare module "fastify" {
  interface FastifyRequest {
    principal?: Principal;
  }
}

const TOUCH_EVERY_MS = 60_000;

export function createAuthenticator(db: Db, localSecret: string | undefined, now: () => Date) {
  const lastTouched = new Map<string, number>();
  const isLocal = (secret: string) => {
    if (!localSecret) return false;
    const a = Buffer.from(secret);
    const b = Buffer.from(localSecret);
    return a.length === b.length && timingSafeEqual(a, b);
  };

  async function principalOf(request: FastifyRequest): Promise<Principal> {
    const header = request.headers.authorization ?? "";
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match)
      throw new AmendsError(
        "UNAUTHENTICATED",
        "send `Authorization: Bearer <token>`; create one with `amends token create`",
      );
    const secret = match[1]!;
    if (isLocal(secret)) {
      const wanted = request.headers["x-amends-workspace"];
      const ws = await requireWorkspace(db, typeof wanted === "string" ? wanted : undefined);
      return { workspaceId: ws.id, tokenId: "local", scopes: ["*"] };
    }
    const at = now();
    const token = await findLiveToken(db, secret, at);
    if (!token) throw new AmendsError("UNAUTHENTICATED", "the token is unknown, revoked or expired");
    if (at.getTime() - (lastTouched.get(token.id) ?? 0) > TOUCH_EVERY_MS) {
      lastTouched.set(token.id, at.getTime());
      await touchToken(db, token.id, at);
    }
    return { workspaceId: token.workspaceId, tokenId: token.id, scopes: token.scopes };
  }

  return (scope: Scope): preHandlerAsyncHookHandler =>
    async (request) => {
      const principal = await principalOf(request);
      if (!allows(principal.scopes, scope)) {
        throw new AmendsError("FORBIDDEN", `this token lacks the "${scope}" scope`);
      }
      request.principal = principal;
    };
}

export function principal(request: FastifyRequest): Principal {
  if (!request.principal) throw new AmendsError("UNAUTHENTICATED");
  return request.principal;
}
