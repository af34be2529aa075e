/** Alerts as pure decisions: each tool's body read into one shape, labels mapped onto components. */
import { describe, expect, it } from "vitest";
import { type AlertRule, failingComponents, mapAlert, readAlerts } from "../../src/core/alerts.ts";
import { AmendsError } from "../../src/core/errors.ts";

describe("reading each tool's webhook", () => {
  it("Datadog: the scope makes one alert per group; tags become labels; warnings change nothing", () => {
    const body = {
      alert_id: "84512237",
      alert_transition: "Triggered",
      alert_cycle_key: "1",
      alert_scope: "city:milan",
      tags: "env:prod,monitor,service:rentals",
    };
    const [a] = readAlerts("datadog", body);
    expect(a).toMatchObject({
      fingerprint: "84512237:city=milan",
      status: "firing",
      labels: { city: "milan", env: "prod", monitor: "", service: "rentals" },
    });
    expect(readAlerts("datadog", { ...body, alert_scope: "city:rome" })[0]!.fingerprint).not.toBe(
      a!.fingerprint,
    );
    expect(readAlerts("datadog", { ...body, alert_transition: "Recovered" })[0]!.status).toBe("resolved");
    expect(readAlerts("datadog", { ...body, alert_transition: "Warn" })[0]!.status).toBe("ignored");
  });

  it("PagerDuty and Opsgenie: only triggering and resolving count", () => {
    const pd = (event_type: string) =>
      readAlerts("pagerduty", {
        event: {
          id: `e-${event_type}`,
          event_type,
          data: { id: "PGR0VU2", service: { summary: "Payments API" } },
        },
      })[0]!;
    expect(pd("incident.triggered")).toMatchObject({ status: "firing", labels: { service: "Payments API" } });
    expect(pd("incident.reopened").status).toBe("firing");
    expect(pd("incident.resolved").status).toBe("resolved");
    expect(pd("incident.acknowledged").status).toBe("ignored");
    const og = (action: string) =>
      readAlerts("opsgenie", {
        action,
        alert: { alertId: "a1", tags: ["city:rome", "prod"], details: { x: "1" } },
      })[0]!;
    expect(og("Create")).toMatchObject({ status: "firing", labels: { city: "rome", prod: "", x: "1" } });
    expect(og("Close").status).toBe("resolved");
    expect(og("AddNote").status).toBe("ignored");
  });

  it("a body of the wrong shape is refused naming the field", () => {
    const refused = (tool: Parameters<typeof readAlerts>[0], body: unknown) => {
      try {
        readAlerts(tool, body);
      } catch (err) {
        expect(err).toBeInstanceOf(AmendsError);
        return (err as AmendsError).fields.map((f) => f.field);
      }
      throw new Error("accepted");
    };
    expect(refused("alertmanager", { alerts: [{ status: "firing", labels: {}, startsAt: "x" }] })).toEqual([
      "alerts.0.fingerprint",
    ]);
    expect(refused("grafana", {})).toEqual(["alerts"]);
    expect(refused("datadog", { alert_id: "1" })).toEqual(["alert_transition"]);
    expect(refused("pagerduty", { event: { id: "1", event_type: "incident.triggered" } })).toEqual([
      "event.data",
    ]);
    expect(refused("opsgenie", { action: "Create", alert: {} })).toEqual(["alert.alertId"]);
  });
});

describe("mapping alerts onto components", () => {
  const rules: AlertRule[] = [
    { match: { service: "rentals", city: ["milan", "rome"] }, components: ["end-rental-{city}"] },
    { match: { service: "rentals" }, components: ["rentals"], status: "partial_outage" },
  ];
  it("the first matching rule wins; placeholders take the label, made id-safe", () => {
    expect(mapAlert(rules, { service: "rentals", city: "milan" }, "major_outage")).toEqual([
      { componentId: "end-rental-milan", status: "major_outage" },
    ]);
    expect(mapAlert(rules, { service: "rentals", city: "Turin" }, "major_outage")).toEqual([
      { componentId: "rentals", status: "partial_outage" },
    ]);
    expect(
      mapAlert(
        [{ match: {}, components: ["end-rental-{city}", "app"] }],
        { city: "San Marino" },
        "major_outage",
      ),
    ).toEqual([
      { componentId: "end-rental-san-marino", status: "major_outage" },
      { componentId: "app", status: "major_outage" },
    ]);
  });
  it("no rule matches: null; no rules at all: every alert counts, on no component; a missing label drops its component", () => {
    expect(mapAlert(rules, { service: "billing" }, "major_outage")).toBeNull();
    expect(mapAlert([], { anything: "x" }, "major_outage")).toEqual([]);
    expect(mapAlert([{ match: {}, components: ["end-rental-{city}"] }], {}, "major_outage")).toEqual([]);
  });
  it("a component two alerts name takes the worst status", () => {
    expect(
      failingComponents([
        [{ componentId: "b", status: "degraded_performance" }],
        [
          { componentId: "b", status: "major_outage" },
          { componentId: "a", status: "partial_outage" },
        ],
      ]),
    ).toEqual([
      { componentId: "a", status: "partial_outage" },
      { componentId: "b", status: "major_outage" },
    ]);
  });
});

describe("older and default formats", () => {
  it("Datadog's default payload: the transition, scope and monitor from the title", () => {
    // https://docs.datadoghq.com/integrations/webhooks/: the payload a new webhook starts with.
    const body = (title: string, id: string) => ({
      body: "%%%\nEnded rentals dropped\n%%%",
      last_updated: "1796587500000",
      event_type: "query_alert_monitor",
      title,
      date: "1796587500000",
      org: { id: "123", name: "The Fleet" },
      id,
    });
    const [fired] = readAlerts(
      "datadog",
      body("[P1] [Triggered on {city:milan}] Ended rentals dropped", "e1"),
    );
    expect(fired).toMatchObject({
      fingerprint: "Ended rentals dropped:city=milan",
      status: "firing",
      labels: { city: "milan" },
    });
    const [resolved] = readAlerts("datadog", body("[Recovered on {city:milan}] Ended rentals dropped", "e2"));
    expect(resolved).toMatchObject({ fingerprint: fired!.fingerprint, status: "resolved" });
    expect(() => readAlerts("datadog", body("Ended rentals dropped", "e3"))).toThrow(/alert_transition/);
  });

  it("Grafana's legacy alerting: one rule's state, its tags and matched series as labels", () => {
    const body = (state: string, value: number) => ({
      title: "[Alerting] End-rental errors",
      ruleId: 7,
      ruleName: "End-rental errors",
      ruleUrl: "https://grafana.example.com/d/x",
      state,
      message: "Too many errors",
      tags: { service: "rentals" },
      evalMatches: [{ value, metric: "errors", tags: { city: "milan" } }],
    });
    expect(readAlerts("grafana", body("alerting", 12))[0]).toMatchObject({
      fingerprint: "rule-7",
      status: "firing",
      labels: { service: "rentals", city: "milan" },
      summary: "End-rental errors",
    });
    expect(readAlerts("grafana", body("ok", 0))[0]!.status).toBe("resolved");
    expect(readAlerts("grafana", body("no_data", 0))[0]!.status).toBe("ignored");
    expect(readAlerts("grafana", body("alerting", 12))[0]!.eventKey).not.toBe(
      readAlerts("grafana", body("alerting", 14))[0]!.eventKey,
    );
  });
});
