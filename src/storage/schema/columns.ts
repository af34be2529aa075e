/** Column helpers shared by the schema files (not tables: schema.ts does not re-export them). */
import { bigint, timestamp } from "drizzle-orm/pg-core";

export const ts = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });
export const money = (name: string) => bigint(name, { mode: "number" });
