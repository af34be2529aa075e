import { describe, expect, it } from "vitest";
import { tickMaintenance } from "../src/maintenance/store.ts";
import { startTestApp } from "./support/app.ts";
import { BACKENDS } from "./support/backends.ts";
import { MaintenancesDoc, Summary } from "./support/statuspage-client.ts";

describe.each(BACKENDS)("scheduled maintenance on %s", (backend) => {
  it("starts on the clock, shows everywhere, and becomes an incident when it overruns", async () => {
    let clock = Date.parse("2026-12-01T20:00:00Z");
    const now = () => new Date(clock);
    const t = await startTestApp(backend, { now });
    const page = async (url: string) => (await t.app.inject(url)).json();
    try {
      await t.call("POST", "/api/v1/components", { id: "rentals", name: "Rentals" });
      const created = await t.call("POST", "/api/v1/maintenances", {
        id: "MNT-1",
        title: "Rental backend upgrade",
        body: "Rentals cannot be started from 02:00 to 04:00.",
        components: ["rentals"],
        starts_at: "2026-12-02T02:00:00Z",
        ends_at: "2026-12-02T04:00:00Z",
        translations: { it: { title: "Aggiornamento del sistema di noleggio" } },
      });
      expect(created.status, JSON.stringify(created.json)).toBe(201);
      expect(created.json.status).toBe("scheduled");
      let upcoming = MaintenancesDoc.parse(await page("/api/v2/scheduled-maintenances/upcoming.json"));
      expect(upcoming.scheduled_maintenances.map((m) => [m.id, m.status, m.scheduled_for])).toEqual([
        ["MNT-1", "scheduled", "2026-12-02T02:00:00.000Z"],
      ]);
      expect((await t.app.inject("/?lang=it")).body).toContain("Aggiornamento del sistema di noleggio");

      // An hour before: one reminder. At the start: in progress, the component under maintenance.
      clock = Date.parse("2026-12-02T01:10:00Z");
      expect(await tickMaintenance(t.database, now())).toEqual([t.workspaceId]);
      clock = Date.parse("2026-12-02T02:00:00Z");
      await tickMaintenance(t.database, now());
      clock += 20_000; // past the page snapshot's age
      const summary = Summary.parse(await page("/api/v2/summary.json"));
      expect(
        summary.status.indicator,
        JSON.stringify(summary.components.map((c) => c.status)) +
          JSON.stringify(summary.scheduled_maintenances.map((m) => m.status)),
      ).toBe("maintenance");
      expect(summary.components[0]!.status).toBe("under_maintenance");
      expect(summary.scheduled_maintenances.map((m) => m.status)).toEqual(["in_progress"]);
      upcoming = MaintenancesDoc.parse(await page("/api/v2/scheduled-maintenances/upcoming.json"));
      expect(upcoming.scheduled_maintenances).toEqual([]);

      // Nobody completed it: 15 minutes after its end it is an outage, with an incident of its own.
      clock = Date.parse("2026-12-02T04:10:00Z");
      expect(await tickMaintenance(t.database, now())).toEqual([]);
      clock = Date.parse("2026-12-02T04:16:00Z");
      await tickMaintenance(t.database, now());
      expect(await tickMaintenance(t.database, now())).toEqual([]); // once only
      const m = (await t.call("GET", "/api/v1/maintenances/MNT-1")).json;
      expect(m.status).toBe("overran");
      const incident = (await t.call("GET", `/api/v1/incidents/${m.overrun_incident_id}`)).json;
      expect(incident).toMatchObject({
        title: "Maintenance running late: Rental backend upgrade",
        started_at: "2026-12-02T04:00:00.000Z",
        components: [{ id: "rentals", status: "partial_outage" }],
      });
      // Customer words in every language, the time in the workspace's zone and named: no ISO timestamp.
      expect(incident.title_translations.it).toBe(
        "Manutenzione in ritardo: Aggiornamento del sistema di noleggio",
      );
      expect(incident.updates[0].body).not.toMatch(/\d{4}-\d{2}-\d{2}T/);
      expect(incident.updates[0].body).toMatch(/planned until 2 Dec 2026, 05:00 CET,/);
      const events = await t.database.query<{ event: string }>(
        "select event from outbox_messages order by created_at, event",
      );
      expect(events.map((e) => e.event)).toEqual([
        "maintenance.scheduled",
        "maintenance.reminder",
        "maintenance.started",
        "maintenance.overran",
      ]);

      expect((await t.call("POST", "/api/v1/maintenances/MNT-1/complete")).json.status).toBe("completed");
    } finally {
      await t.close();
    }
  });

  it("publishes an iCalendar feed that a real parser reads, per component too", async () => {
    const t = await startTestApp(backend);
    try {
      await t.call("POST", "/api/v1/components", { id: "a", name: "A" });
      await t.call("POST", "/api/v1/components", { id: "b", name: "B" });
      const start = new Date(Date.now() + 86_400_000);
      const end = new Date(start.getTime() + 3_600_000);
      for (const [id, component] of [
        ["M-A", "a"],
        ["M-B", "b"],
      ]) {
        await t.call("POST", "/api/v1/maintenances", {
          id,
          title: `Work on ${component}`,
          body: "x",
          components: [component],
          starts_at: start.toISOString(),
          ends_at: end.toISOString(),
        });
      }
      const ical = (await import("node-ical")).default;
      const res = await t.app.inject("/maintenance.ics");
      expect(res.headers["content-type"]).toMatch(/text\/calendar/);
      const events = Object.values(ical.sync.parseICS(res.body)).filter(
        (e: any) => e.type === "VEVENT",
      ) as any[];
      expect(events.map((e) => e.summary).sort()).toEqual(["Work on a", "Work on b"]);
      expect(new Date(events[0].start).getTime()).toBe(Math.floor(start.getTime() / 1000) * 1000);
      const onlyA = Object.values(
        ical.sync.parseICS((await t.app.inject("/maintenance.ics?component=a")).body),
      ).filter((e: any) => e.type === "VEVENT") as any[];
      expect(onlyA.map((e) => e.summary)).toEqual(["Work on a"]);
      const bad = await t.call("POST", "/api/v1/maintenances", {
        title: "x",
        body: "y",
        starts_at: end.toISOString(),
        ends_at: start.toISOString(),
      });
      expect(bad.json.errors[0].field).toBe("ends_at");
    } finally {
      await t.close();
    }
  });
});
