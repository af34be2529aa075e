/** A PostgreSQL server for benchmarks: BENCH_DATABASE_URL, or the test suite's throw-away cluster. */
import { randomBytes } from "node:crypto";
import pg from "pg";
import type { TestProject } from "vitest/node";
import startTestCluster from "../test/support/postgres-cluster.ts";

export async function benchServer(): Promise<{ url: string; stop: () => void | Promise<void> }> {
  if (process.env.BENCH_DATABASE_URL) return { url: process.env.BENCH_DATABASE_URL, stop: () => {} };
  let url: string | null = null;
  // The cluster helper is a Vitest global setup; it only needs somewhere to hand its URL.
  const project = { provide: (_: string, value: string | null) => (url = value) };
  const stop = await startTestCluster(project as unknown as TestProject);
  if (!url || !stop) throw new Error("no PostgreSQL: set BENCH_DATABASE_URL or install postgresql");
  return { url, stop };
}

export async function admin(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A fresh database on the server, and a function that drops it. */
export async function freshBenchDatabase(serverUrl: string, prefix: string) {
  const name = `${prefix}_${randomBytes(4).toString("hex")}`;
  await admin(serverUrl, `create database ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(serverUrl, `drop database ${name} with (force)`) };
}
