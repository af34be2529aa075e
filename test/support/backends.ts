/**
 * Runs a storage test against both backends: PGlite in memory and a fresh PostgreSQL
 * database (created per call on the suite's cluster, see postgres-cluster.ts).
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";
import { type Database, openDatabase } from "../../src/storage/database.ts";

export type BackendName = "pglite" | "postgres";
export const BACKENDS: BackendName[] = ["pglite", "postgres"];

/** A migrated, empty database on the named backend. */
export async function freshDatabase(backend: BackendName): Promise<Database> {
  if (backend === "pglite") return openDatabase({ memory: true });
  return openDatabase({ url: await freshPostgresUrl() });
}

/** The URL of a new, empty database on the suite's PostgreSQL cluster. */
export async function freshPostgresUrl(): Promise<string> {
  const url = inject("postgresUrl");
  if (!url)
    throw new Error("PostgreSQL is not available: install the postgresql package or set TEST_DATABASE_URL");
  const name = `amends_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}
