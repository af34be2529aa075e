/**
 * The one schema, for PGlite and PostgreSQL alike. Every row belongs to a workspace and
 * every key starts with the workspace id, so workspaces never see each other's data.
 * Money columns are integers in minor units beside an ISO 4217 code.
 *
 * The tables live by capability in ./schema/; this file re-exports them all, so importers and
 * `import * as schema` (the database handle) see every table. drizzle-kit reads ./schema/*.ts.
 */

export * from "./schema/access.ts";
export * from "./schema/alerts.ts";
export * from "./schema/audit.ts";
export * from "./schema/billing.ts";
export * from "./schema/company-data.ts";
export * from "./schema/compensation.ts";
export * from "./schema/components.ts";
export * from "./schema/incidents.ts";
export * from "./schema/maintenance.ts";
export * from "./schema/monitors.ts";
export * from "./schema/notifications.ts";
export * from "./schema/postmortems.ts";
export * from "./schema/protocols.ts";
export * from "./schema/reports.ts";
export * from "./schema/status-pages.ts";
export * from "./schema/tokens.ts";
export * from "./schema/workspaces.ts";
