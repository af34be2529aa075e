/** Column helpers shared by the schema files (not tables: schema.ts does not re-export them). */
import { bigint, customType, jsonb, text, timestamp } from "drizzle-orm/pg-core";

export const ts = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });
export const money = (name: string) => bigint(name, { mode: "number" });
/** Bytes: node-postgres reads bytea as a Buffer, PGlite as a Uint8Array; both come out as a Buffer. */
export const bytea = customType<{ data: Buffer; driverData: Uint8Array }>({
  dataType: () => "bytea",
  fromDriver: (value) => Buffer.from(value),
});

/**
 * What a watcher (a monitor, an alert integration) knows of its own condition: see
 * core/monitors.ts `step`. A function: each table gets its own column builders.
 */
export const watcherCondition = () => ({
  /** up | down | pending | paused */
  state: text("state").notNull().default("pending"),
  stateChangedAt: ts("state_changed_at"),
  /** down, but passing since then: recovery waits for a quiet period */
  recoveringSince: ts("recovering_since"),
  /** recent state changes (epoch ms), for flap damping */
  transitions: jsonb("transitions").notNull().default([]).$type<number[]>(),
  /** the incident it opened and will resolve on recovery */
  incidentId: text("incident_id"),
});
