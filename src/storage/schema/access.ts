/** People and access: users, console sessions, one-time links, sign-in rate limits. */
import { bigint, index, integer, pgTable, text, uniqueIndex } from "drizzle-orm/pg-core";
import { ts } from "./columns.ts";
import { workspaces } from "./workspaces.ts";

/** A person who signs in to the console. E-mail is unique across workspaces: login needs no workspace. */
export const users = pgTable(
  "users",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    /** lower-case */
    email: text("email").notNull(),
    name: text("name").notNull(),
    /** owner, admin, responder, support, finance, viewer: see access/permissions.ts */
    role: text("role").notNull(),
    locale: text("locale").notNull().default("en"),
    /** scrypt$N$r$p$salt$hash; null until an invited user sets one, or for OIDC-only users */
    passwordHash: text("password_hash"),
    /** base32 TOTP secret once confirmed; the pending one waits for the first valid code */
    totpSecret: text("totp_secret"),
    totpPendingSecret: text("totp_pending_secret"),
    /** the last TOTP time step accepted: a code is never accepted twice */
    totpLastStep: bigint("totp_last_step", { mode: "number" }),
    /** `issuer|subject` of an OpenID Connect identity linked to this user */
    oidcSubject: text("oidc_subject"),
    disabledAt: ts("disabled_at"),
    createdAt: ts("created_at").notNull(),
    updatedAt: ts("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("users_email").on(t.email),
    uniqueIndex("users_oidc_subject").on(t.oidcSubject),
    index("users_workspace").on(t.workspaceId),
  ],
);

/** Console sessions; the cookie carries the secret, the database only its SHA-256. */
export const sessions = pgTable(
  "sessions",
  {
    idHash: text("id_hash").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    workspaceId: text("workspace_id").notNull(),
    createdAt: ts("created_at").notNull(),
    lastSeenAt: ts("last_seen_at").notNull(),
    /** absolute end, whatever the activity */
    expiresAt: ts("expires_at").notNull(),
    ip: text("ip"),
    userAgent: text("user_agent"),
  },
  (t) => [index("sessions_user").on(t.userId)],
);

/** One-time links: first-run owner setup and invitations. Stored hashed, used once, expiring. */
export const oneTimeTokens = pgTable("one_time_tokens", {
  tokenHash: text("token_hash").primaryKey(),
  /** setup | invite */
  kind: text("kind").notNull(),
  workspaceId: text("workspace_id"),
  userId: text("user_id"),
  createdAt: ts("created_at").notNull(),
  expiresAt: ts("expires_at").notNull(),
  usedAt: ts("used_at"),
});

/**
 * Sign-in attempts counted per key (client address, e-mail) and window, shared by every app
 * process on the database, so that running more processes does not allow more guesses.
 */
export const rateLimitHits = pgTable(
  "rate_limit_hits",
  {
    key: text("key").primaryKey(),
    hits: integer("hits").notNull(),
    windowEnd: ts("window_end").notNull(),
  },
  (t) => [index("rate_limit_hits_window_end").on(t.windowEnd)],
);
