/** API tokens. */
import { index, pgTable, text } from "drizzle-orm/pg-core";
import { ts } from "./columns.ts";
import { workspaces } from "./workspaces.ts";

export const apiTokens = pgTable(
  "api_tokens",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    name: text("name").notNull(),
    /** SHA-256 of the secret: tokens are 256 random bits, so a slow hash adds nothing. */
    secretHash: text("secret_hash").notNull().unique(),
    scopes: text("scopes").array().notNull(),
    createdAt: ts("created_at").notNull().defaultNow(),
    expiresAt: ts("expires_at"),
    lastUsedAt: ts("last_used_at"),
    revokedAt: ts("revoked_at"),
  },
  (t) => [index("api_tokens_workspace").on(t.workspaceId)],
);
