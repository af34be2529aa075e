import ical from "node-ical";
import { describe, expect, it } from "vitest";
import { tickMaintenance } from "../src/maintenance/store.ts";
import { startTestApp } from "./support/app.ts";
import { BACKENDS } from "./support/backends.ts";
import { MaintenancesDoc } from "./support/statuspage-client.ts";

const romeTime = (iso: string) =>
  new Intl.DateTimeFormat("en-GB", {
    timeZone: "Europe/Rome",
    weekday: "short",
    hour: "2-digit",
    minute: "2-digit",
  }).format(new Date(iso));

describe.each(BACKENDS)("recurring maintenance on %s", (backend) => {
  it("repeats at 02:00 Europe/Rome across the DST change, each occurrence a window of its own", async () => {
    let clock = Date.parse("2026-03-10T12:00:00Z");
    const now = () => new Date(clock);
    const t = await startTestApp(backend, { now });
    try {
      await t.call("POST", "/api/v1/components", { id: "db", name: "Database" });
      const bad = await t.call("POST", "/api/v1/maintenance-series", {
        title: "Weekly database upkeep",
        body: "Rentals may be slow.",
        first_start: "2026-03-01T02:00",
        time_zone: "Europe/Nowhere",
        rrule: "FREQ=WEEKLY;BYDAY=SU",
        duration: "PT1H",
      });
      expect(bad.status).toBe(400);
      expect(bad.json.errors[0].field).toBe("time_zone");
      const badRule = await t.call("POST", "/api/v1/maintenance-series", {
        title: "x",
        body: "x",
        first_start: "2026-03-01T02:00",
        time_zone: "Europe/Rome",
        rrule: "FREQ=SOMETIMES",
        duration: "PT1H",
      });
      expect(badRule.status).toBe(400);
      expect(badRule.json.errors[0].field).toBe("rrule");

      const created = await t.call("POST", "/api/v1/maintenance-series", {
        id: "db-weekly",
        title: "Weekly database upkeep",
        body: "Rentals may be slow for an hour.",
        components: ["db"],
        first_start: "2026-03-01T02:00",
        time_zone: "Europe/Rome",
        rrule: "FREQ=WEEKLY;BYDAY=SU",
        duration: "PT1H",
        translations: { it: { title: "Manutenzione settimanale del database" } },
      });
      expect(created.status, JSON.stringify(created.json)).toBe(201);

      // The next five weeks are written as windows: 02:00 in Rome before and after the change
      // to summer time on 29 March (when 02:00 does not exist and the window starts at 03:00).
      const list = (await t.call("GET", "/api/v1/maintenances")).json.maintenances;
      const starts = list.map((m: any) => [m.id, m.starts_at, romeTime(m.starts_at)]);
      expect(starts).toEqual([
        ["db-weekly.20260315T0200", "2026-03-15T01:00:00.000Z", "Sun 02:00"],
        ["db-weekly.20260322T0200", "2026-03-22T01:00:00.000Z", "Sun 02:00"],
        ["db-weekly.20260329T0300", "2026-03-29T01:00:00.000Z", "Sun 03:00"],
        ["db-weekly.20260405T0200", "2026-04-05T00:00:00.000Z", "Sun 02:00"],
        ["db-weekly.20260412T0200", "2026-04-12T00:00:00.000Z", "Sun 02:00"],
      ]);
      expect(list.every((m: any) => m.series_id === "db-weekly" && m.status === "scheduled")).toBe(true);

      // Feeds: the Statuspage JSON and the iCal feed list every occurrence; iCal parses.
      clock += 20_000;
      const upcoming = MaintenancesDoc.parse(
        (await t.app.inject("/api/v2/scheduled-maintenances/upcoming.json")).json(),
      );
      expect(upcoming.scheduled_maintenances).toHaveLength(5);
      const calendar = ical.sync.parseICS((await t.app.inject("/maintenance.ics")).body);
      const events = Object.values(calendar).filter((e) => e?.type === "VEVENT") as ical.VEvent[];
      expect(events.map((e) => new Date(e.start).toISOString()).sort()).toContain("2026-04-05T00:00:00.000Z");
      // The page shows the next window once, marked as repeating, in the reader's language.
      const page = (await t.app.inject("/it/")).body;
      expect(page.match(/Manutenzione settimanale del database/g)).toHaveLength(1);
      expect(page).toContain("Si ripete");

      // An occurrence runs on the clock like a one-off: reminder, start, and overrun into an incident.
      clock = Date.parse("2026-04-05T00:00:00Z");
      await tickMaintenance(t.database, now());
      clock = Date.parse("2026-04-05T01:16:00Z");
      await tickMaintenance(t.database, now());
      const occurrence = (await t.call("GET", "/api/v1/maintenances/db-weekly.20260405T0200")).json;
      expect(occurrence.status).toBe("overran");
      expect(occurrence.overrun_incident_id).toBeTruthy();
      const events2 = await t.database.query<{ idempotency_key: string }>(
        "select idempotency_key from outbox_messages where idempotency_key like 'maintenance:db-weekly.20260405T0200:%' order by 1",
      );
      expect(events2.map((e) => e.idempotency_key.split(":").at(-1))).toEqual(["overran", "started"]);

      // Ticking later writes the weeks that come into the horizon, once.
      clock = Date.parse("2026-04-20T12:00:00Z");
      await tickMaintenance(t.database, now());
      await tickMaintenance(t.database, now());
      const later = (await t.call("GET", "/api/v1/maintenances")).json.maintenances.map((m: any) => m.id);
      expect(later).toContain("db-weekly.20260524T0200");
      expect(new Set(later).size).toBe(later.length);

      // Cancelling the series cancels its windows still to come.
      const cancelled = await t.call("POST", "/api/v1/maintenance-series/db-weekly/cancel");
      expect(cancelled.status).toBe(200);
      const after = (await t.call("GET", "/api/v1/maintenances")).json.maintenances;
      expect(after.filter((m: any) => m.status === "scheduled")).toEqual([]);
    } finally {
      await t.close();
    }
  });
});
