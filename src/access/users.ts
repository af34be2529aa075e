/**
 * Users of a workspace and their one-time links (first-run owner setup, invitations).
 * Secrets (passwords, TOTP, link tokens) never leave this module except as hashes or once.
 */
import { createHash, randomBytes } from "node:crypto";
import { and, asc, eq, isNull, sql } from "drizzle-orm";
import { AmendsError, conflict, invalidField, notFound } from "../core/errors.ts";
import { newId } from "../lib/ids.ts";
import type { Db } from "../storage/database.ts";
import { oneTimeTokens, sessions, users } from "../storage/schema.ts";
import { hashPassword, MIN_PASSWORD_LENGTH } from "./passwords.ts";
import type { Role } from "./permissions.ts";

export type UserRow = typeof users.$inferSelect;
export interface User {
  id: string;
  workspaceId: string;
  email: string;
  name: string;
  role: Role;
  locale: string;
  totpEnabled: boolean;
  disabled: boolean;
  hasPassword: boolean;
  createdAt: Date;
}

export const userOf = (u: UserRow): User => ({
  id: u.id,
  workspaceId: u.workspaceId,
  email: u.email,
  name: u.name,
  role: u.role as Role,
  locale: u.locale,
  totpEnabled: u.totpSecret != null,
  disabled: u.disabledAt != null,
  hasPassword: u.passwordHash != null,
  createdAt: u.createdAt,
});

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
export const normaliseEmail = (e: string) => e.trim().toLowerCase();

export function checkPasswordStrength(password: string, field = "password"): void {
  if (password.length < MIN_PASSWORD_LENGTH)
    throw invalidField(field, `must be at least ${MIN_PASSWORD_LENGTH} characters`);
  if (password.length > 1024) throw invalidField(field, "at most 1024 characters");
}

export async function countUsers(db: Db): Promise<number> {
  const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(users);
  return row?.n ?? 0;
}

export async function findUserByEmail(db: Db, email: string): Promise<UserRow | undefined> {
  return (
    await db
      .select()
      .from(users)
      .where(eq(users.email, normaliseEmail(email)))
  )[0];
}

export async function findUserBySubject(db: Db, subject: string): Promise<UserRow | undefined> {
  return (await db.select().from(users).where(eq(users.oidcSubject, subject)))[0];
}

export async function linkOidcSubject(db: Db, user: UserRow, subject: string, now: Date): Promise<UserRow> {
  const [row] = await db
    .update(users)
    .set({ oidcSubject: subject, updatedAt: now })
    .where(eq(users.id, user.id))
    .returning();
  return row!;
}

export async function getUserRow(db: Db, workspaceId: string, id: string): Promise<UserRow> {
  const [row] = await db
    .select()
    .from(users)
    .where(and(eq(users.workspaceId, workspaceId), eq(users.id, id)));
  if (!row) throw notFound("user", id);
  return row;
}

export async function listUsers(db: Db, workspaceId: string): Promise<UserRow[]> {
  return db
    .select()
    .from(users)
    .where(eq(users.workspaceId, workspaceId))
    .orderBy(asc(users.createdAt), asc(users.id));
}

export async function createUser(
  db: Db,
  input: { workspaceId: string; email: string; name: string; role: Role; password?: string; locale?: string },
  now: Date,
): Promise<UserRow> {
  const email = normaliseEmail(input.email);
  if (await findUserByEmail(db, email)) throw conflict(`a user with e-mail ${email} already exists`, "email");
  if (input.password !== undefined) checkPasswordStrength(input.password);
  const [row] = await db
    .insert(users)
    .values({
      id: newId("usr"),
      workspaceId: input.workspaceId,
      email,
      name: input.name,
      role: input.role,
      locale: input.locale ?? "en",
      passwordHash: input.password !== undefined ? await hashPassword(input.password) : null,
      createdAt: now,
      updatedAt: now,
    })
    .returning();
  return row!;
}

export async function updateUser(
  db: Db,
  workspaceId: string,
  id: string,
  patch: Partial<{
    role: Role;
    name: string;
    locale: string;
    disabled: boolean;
    passwordHash: string;
    totpSecret: string | null;
    totpPendingSecret: string | null;
    totpLastStep: number;
  }>,
  now: Date,
): Promise<UserRow> {
  const { disabled, ...rest } = patch;
  const [row] = await db
    .update(users)
    .set({
      ...rest,
      ...(disabled !== undefined && { disabledAt: disabled ? now : null }),
      updatedAt: now,
    })
    .where(and(eq(users.workspaceId, workspaceId), eq(users.id, id)))
    .returning();
  if (!row) throw notFound("user", id);
  // A disabled user, or one whose role changed, signs in again.
  if (disabled || patch.role) await db.delete(sessions).where(eq(sessions.userId, id));
  return row;
}

/** Owners left who can still sign in, other than `exceptId`. */
export async function otherActiveOwners(db: Db, workspaceId: string, exceptId: string): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(users)
    .where(
      and(
        eq(users.workspaceId, workspaceId),
        eq(users.role, "owner"),
        isNull(users.disabledAt),
        sql`${users.id} <> ${exceptId}`,
      ),
    );
  return row?.n ?? 0;
}

// ---- one-time links ----

export type OneTimeKind = "setup" | "invite";
const LIFETIME_MS: Record<OneTimeKind, number> = { setup: 24 * 3_600_000, invite: 7 * 24 * 3_600_000 };

export async function createOneTimeToken(
  db: Db,
  input: { kind: OneTimeKind; workspaceId?: string | null; userId?: string | null },
  now: Date,
): Promise<string> {
  const token = randomBytes(32).toString("base64url");
  await db.insert(oneTimeTokens).values({
    tokenHash: sha256(token),
    kind: input.kind,
    workspaceId: input.workspaceId ?? null,
    userId: input.userId ?? null,
    createdAt: now,
    expiresAt: new Date(now.getTime() + LIFETIME_MS[input.kind]),
  });
  return token;
}

/** Marks the link used and returns it; refuses unknown, used or expired links. Call inside a transaction. */
export async function useOneTimeToken(db: Db, kind: OneTimeKind, token: string, now: Date) {
  const [row] = await db
    .update(oneTimeTokens)
    .set({ usedAt: now })
    .where(
      and(
        eq(oneTimeTokens.tokenHash, sha256(token)),
        eq(oneTimeTokens.kind, kind),
        isNull(oneTimeTokens.usedAt),
        sql`${oneTimeTokens.expiresAt} > ${now.toISOString()}`,
      ),
    )
    .returning();
  if (!row) throw new AmendsError("UNAUTHENTICATED", "this link is unknown, used or expired");
  return row;
}
