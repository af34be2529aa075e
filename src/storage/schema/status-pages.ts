/** More status pages per workspace, public or private. */
import { jsonb, pgTable, primaryKey, text } from "drizzle-orm/pg-core";
import { bytea, ts } from "./columns.ts";
import { workspaces } from "./workspaces.ts";

/**
 * More pages per workspace: each shows chosen components (with their subtrees), is reached by
 * host name (a custom domain) or by path (/p/<id>/), and may be private — behind a password,
 * a login link e-mailed to addresses of chosen domains, or an IP allow-list (any one admits).
 */
export const statusPages = pgTable(
  "status_pages",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    id: text("id").notNull(),
    name: text("name").notNull(),
    /** lower-case host name, e.g. status.milan.example.com */
    hostname: text("hostname").unique(),
    components: jsonb("components").notNull().$type<string[]>(),
    /** scrypt$salt$hash, when a password admits */
    passwordHash: text("password_hash"),
    emailDomains: jsonb("email_domains").notNull().default([]).$type<string[]>(),
    /** addresses and CIDR ranges, e.g. 10.0.0.0/8 */
    ipAllow: jsonb("ip_allow").notNull().default([]).$type<string[]>(),
    createdAt: ts("created_at").notNull(),
    updatedAt: ts("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

/** The brand's images (logo, favicon), one of each per workspace; workspaces.brand says which is current. */
export const brandAssets = pgTable(
  "brand_assets",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    kind: text("kind").notNull().$type<"logo" | "favicon">(),
    contentType: text("content_type").notNull(),
    sha256: text("sha256").notNull(),
    body: bytea("body").notNull(),
    updatedAt: ts("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.kind] })],
);
