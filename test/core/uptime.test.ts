import { describe, expect, it } from "vitest";
import { openIncident, postUpdate } from "../../src/core/incidents.ts";
import { dailyUptime, ONGOING, statusSpans, uptimeFigures } from "../../src/core/uptime.ts";

const H = 3_600_000;
const day0 = Date.parse("2026-11-01T00:00:00Z");

describe("uptime from incidents", () => {
  // Major outage 02:00–04:00, then partial until 06:00, resolved; reported only at 02:30.
  let inc = openIncident(
    {
      id: "I",
      updateId: "u1",
      title: "x",
      startedAt: new Date(day0 + 2 * H),
      update: { body: "down", components: [{ componentId: "a", status: "major_outage" }] },
    },
    new Date(day0 + 2.5 * H),
  );
  inc = postUpdate(
    inc,
    "u2",
    { body: "better", components: [{ componentId: "a", status: "partial_outage" }] },
    new Date(day0 + 4 * H),
  );
  inc = postUpdate(inc, "u3", { status: "resolved", body: "ok" }, new Date(day0 + 6 * H));

  it("turns the timeline into status spans from the true start", () => {
    expect(statusSpans(inc)).toEqual([
      { componentId: "a", status: "major_outage", start: day0 + 2 * H, end: day0 + 4 * H },
      { componentId: "a", status: "partial_outage", start: day0 + 4 * H, end: day0 + 6 * H },
    ]);
  });

  it("weighs partial outages at 30%, lets the worst overlapping status win, and keeps maintenance apart", () => {
    const spans = [
      ...statusSpans(inc),
      { componentId: "b", status: "degraded_performance" as const, start: day0 + 3 * H, end: day0 + 10 * H },
      { componentId: "b", status: "under_maintenance" as const, start: day0 + 24 * H, end: day0 + 26 * H },
    ];
    const starts = [day0, day0 + 24 * H];
    const days = dailyUptime(spans, starts, day0 + 48 * H);
    expect(days[0]).toMatchObject({ worst: "major_outage", downMs: 2 * H + 0.6 * H, maintenanceMs: 0 });
    expect(days[1]).toMatchObject({ worst: "under_maintenance", downMs: 0, maintenanceMs: 2 * H });
    const f = uptimeFigures(days, starts, day0 + 48 * H);
    expect(f.uptime).toBe(Math.floor(((48 - 2.6 - 2) / 48) * 10_000) / 100);
    expect(f.slaUptime).toBe(Math.floor(((46 - 2.6) / 46) * 10_000) / 100);
  });

  it("shows an outage on today's bar from the moment it opens, and draws an ongoing one to the present", () => {
    const now = day0 + 10 * H;
    const opened = openIncident(
      {
        id: "J",
        updateId: "v1",
        title: "x",
        startedAt: new Date(now),
        update: { body: "down", components: [{ componentId: "a", status: "major_outage" }] },
      },
      new Date(now),
    );
    const spans = statusSpans(opened);
    expect(spans).toEqual([{ componentId: "a", status: "major_outage", start: now, end: ONGOING }]);
    expect(dailyUptime(spans, [day0], now)[0]).toMatchObject({ worst: "major_outage", downMs: 0 });
    expect(dailyUptime(spans, [day0], now + H)[0]).toMatchObject({ worst: "major_outage", downMs: H });
    // Yesterday ended before it began.
    expect(dailyUptime(spans, [day0 - 24 * H, day0], now)[0]!.worst).toBe("operational");
  });
});
