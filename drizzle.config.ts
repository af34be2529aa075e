import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  // the tables, one file per capability (src/storage/schema.ts re-exports them for the app)
  schema: "./src/storage/schema/*.ts",
  out: "./drizzle",
});
