/**
 * API tokens: `amd_` + 256 random bits, shown once, stored as a SHA-256 hash.
 * A token belongs to one workspace and carries scopes and an optional expiry.
 */
import { createHash, randomBytes } from "node:crypto";
import { and, asc, eq } from "drizzle-orm";
import { notFound } from "../core/errors.ts";
import { newId } from "../lib/ids.ts";
import type { Db } from "../storage/database.ts";
import { apiTokens } from "../storage/schema.ts";

export const SCOPES = [
  "read",
  "components:write",
  "incidents:write",
  "data:write",
  "compensation:write",
  "compensation:approve",
  "tokens:write",
  "notifications:write",
  "monitors:write",
  "protocols:start",
  "*",
] as const;
export type Scope = (typeof SCOPES)[number];

export type ApiToken = Omit<typeof apiTokens.$inferSelect, "secretHash">;

export const hashSecret = (secret: string) => createHash("sha256").update(secret).digest("hex");

export function allows(scopes: readonly string[], needed: Scope): boolean {
  return (
    scopes.includes("*") || scopes.includes(needed) || (needed === "read" && scopes.some((s) => s !== "read"))
  );
}

export async function createToken(
  db: Db,
  input: { workspaceId: string; name: string; scopes?: Scope[]; expiresAt?: Date | null },
): Promise<{ token: ApiToken; secret: string }> {
  const secret = `amd_${randomBytes(32).toString("base64url")}`;
  const [row] = await db
    .insert(apiTokens)
    .values({
      id: newId("tok"),
      workspaceId: input.workspaceId,
      name: input.name,
      secretHash: hashSecret(secret),
      scopes: input.scopes ?? ["*"],
      expiresAt: input.expiresAt ?? null,
    })
    .returning();
  const { secretHash: _, ...token } = row!;
  return { token, secret };
}

/** The live token for a secret, or undefined when unknown, revoked or expired. */
export async function findLiveToken(db: Db, secret: string, now: Date): Promise<ApiToken | undefined> {
  const [row] = await db
    .select()
    .from(apiTokens)
    .where(eq(apiTokens.secretHash, hashSecret(secret)));
  if (!row || row.revokedAt || (row.expiresAt && row.expiresAt <= now)) return undefined;
  const { secretHash: _, ...token } = row;
  return token;
}

export async function touchToken(db: Db, id: string, now: Date): Promise<void> {
  await db.update(apiTokens).set({ lastUsedAt: now }).where(eq(apiTokens.id, id));
}

export async function listTokens(db: Db, workspaceId: string): Promise<ApiToken[]> {
  const rows = await db
    .select()
    .from(apiTokens)
    .where(eq(apiTokens.workspaceId, workspaceId))
    .orderBy(asc(apiTokens.createdAt), asc(apiTokens.id));
  return rows.map(({ secretHash: _, ...t }) => t);
}

export async function revokeToken(db: Db, workspaceId: string, id: string, now: Date): Promise<ApiToken> {
  const [row] = await db
    .update(apiTokens)
    .set({ revokedAt: now })
    .where(and(eq(apiTokens.workspaceId, workspaceId), eq(apiTokens.id, id)))
    .returning();
  if (!row) throw notFound("token", id);
  const { secretHash: _, ...token } = row;
  return token;
}
