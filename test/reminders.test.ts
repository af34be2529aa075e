import { describe, expect, it } from "vitest";
import { queueOverdueReminders } from "../src/incidents/reminders.ts";
import { startTestApp } from "./support/app.ts";
import { BACKENDS } from "./support/backends.ts";

describe.each(BACKENDS)("missed update promises on %s", (backend) => {
  it("remind the team once per missed promise, and the page says the update is overdue", async () => {
    let clock = Date.parse("2026-11-22T10:00:00Z");
    const t = await startTestApp(backend, { now: () => new Date(clock) });
    try {
      await t.call("POST", "/api/v1/incidents", {
        id: "INC-1",
        title: "Payments slow",
        body: "Looking",
        next_update_by: "2026-11-22T10:30:00Z",
      });
      expect(await queueOverdueReminders(t.database, new Date(clock))).toBe(0);
      clock = Date.parse("2026-11-22T10:31:00Z");
      expect(await queueOverdueReminders(t.database, new Date(clock))).toBe(1);
      expect(await queueOverdueReminders(t.database, new Date(clock + 60_000))).toBe(0);
      const [msg] = await t.database.query<{ event: string; payload: any }>(
        "select event, payload from outbox_messages where event = 'incident.update_overdue'",
      );
      expect(msg).toMatchObject({
        event: "incident.update_overdue",
        payload: { incident_id: "INC-1", title: "Payments slow" },
      });
      clock += 60_000;
      expect((await t.app.inject("/")).body).toMatch(/is overdue/);
      // A new promise, missed again, reminds again.
      await t.call("POST", "/api/v1/incidents/INC-1/updates", {
        body: "Still on it",
        next_update_by: "2026-11-22T11:00:00Z",
      });
      expect(await queueOverdueReminders(t.database, new Date("2026-11-22T11:01:00Z"))).toBe(1);
    } finally {
      await t.close();
    }
  });
});
