/**
 * Console sessions. The cookie holds 256 random bits; the database keeps their SHA-256, so a
 * leaked table opens nothing. Every login makes a new id (a planted cookie is never promoted:
 * no fixation). A session ends after IDLE of inactivity or ABSOLUTE after login, whichever first.
 * The CSRF token is an HMAC of the session secret: nothing more to store, useless without the cookie.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { and, eq, gt, lt, ne, or } from "drizzle-orm";
import type { Db } from "../storage/database.ts";
import { sessions, users } from "../storage/schema.ts";
import type { UserRow } from "./users.ts";

export const SESSION_COOKIE = "amends_session";
export const IDLE_MS = Number(process.env.AMENDS_SESSION_IDLE_MINUTES ?? 120) * 60_000;
export const ABSOLUTE_MS = Number(process.env.AMENDS_SESSION_HOURS ?? 12) * 3_600_000;
const TOUCH_EVERY_MS = 60_000;

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

export const csrfTokenOf = (sessionSecret: string) =>
  createHmac("sha256", sessionSecret).update("amends-csrf").digest("base64url");

export function csrfMatches(sessionSecret: string, presented: string | undefined): boolean {
  if (!presented) return false;
  const a = Buffer.from(csrfTokenOf(sessionSecret));
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function startSession(
  db: Db,
  user: UserRow,
  meta: { ip?: string; userAgent?: string; replacing?: string },
  now: Date,
): Promise<string> {
  if (meta.replacing) await endSession(db, meta.replacing);
  const secret = randomBytes(32).toString("base64url");
  await db.insert(sessions).values({
    idHash: sha256(secret),
    userId: user.id,
    workspaceId: user.workspaceId,
    createdAt: now,
    lastSeenAt: now,
    expiresAt: new Date(now.getTime() + ABSOLUTE_MS),
    ip: meta.ip ?? null,
    userAgent: meta.userAgent?.slice(0, 300) ?? null,
  });
  // Expired sessions of this user go as a new one starts: the table stays small without a sweeper.
  await db
    .delete(sessions)
    .where(
      and(
        eq(sessions.userId, user.id),
        or(lt(sessions.expiresAt, now), lt(sessions.lastSeenAt, new Date(now.getTime() - IDLE_MS))),
      ),
    );
  return secret;
}

/** The live session's user, or undefined when unknown, idle too long, past its end or the user is disabled. */
export async function findSessionUser(db: Db, secret: string, now: Date): Promise<UserRow | undefined> {
  const idHash = sha256(secret);
  const [row] = await db
    .select({ user: users, lastSeenAt: sessions.lastSeenAt })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(
      and(
        eq(sessions.idHash, idHash),
        gt(sessions.expiresAt, now),
        gt(sessions.lastSeenAt, new Date(now.getTime() - IDLE_MS)),
      ),
    );
  if (!row || row.user.disabledAt) return undefined;
  if (now.getTime() - row.lastSeenAt.getTime() > TOUCH_EVERY_MS)
    await db.update(sessions).set({ lastSeenAt: now }).where(eq(sessions.idHash, idHash));
  return row.user;
}

/** Ends every session of a user but the one given (after a password change). */
export async function endOtherSessions(
  db: Db,
  userId: string,
  keepSecret: string | undefined,
): Promise<void> {
  const keep = keepSecret ? sha256(keepSecret) : "";
  await db.delete(sessions).where(and(eq(sessions.userId, userId), ne(sessions.idHash, keep)));
}

export async function endSession(db: Db, secret: string): Promise<void> {
  await db.delete(sessions).where(eq(sessions.idHash, sha256(secret)));
}
