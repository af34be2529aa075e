import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "src/**/*.test.ts"],
    globalSetup: ["test/support/postgres-cluster.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Two files at once: most tests wait on servers, queues and clocks, so the suite takes about
    // nine minutes on two cores instead of fifteen one file at a time.
    maxWorkers: 2,
  },
});
