/** Column helpers shared by the schema files (not tables: schema.ts does not re-export them). */
import { bigint, customType, timestamp } from "drizzle-orm/pg-core";

export const ts = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });
export const money = (name: string) => bigint(name, { mode: "number" });
/** Bytes: node-postgres reads bytea as a Buffer, PGlite as a Uint8Array; both come out as a Buffer. */
export const bytea = customType<{ data: Buffer; driverData: Uint8Array }>({
  dataType: () => "bytea",
  fromDriver: (value) => Buffer.from(value),
});
