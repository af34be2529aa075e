import { describe, expect, it } from "vitest";
import {
  buildTree,
  type Component,
  checkParent,
  flattenTree,
  subtreeIds,
} from "../../src/core/components.ts";
import { AmendsError } from "../../src/core/errors.ts";
import { editIncident, impactOf, openIncident, postUpdate } from "../../src/core/incidents.ts";
import { pageIndicator } from "../../src/core/page-status.ts";

const t0 = new Date("2017-12-19T02:00:00Z");
const at = (min: number) => new Date(t0.getTime() + min * 60_000);

const comp = (id: string, parentId: string | null, extra: Partial<Component> = {}): Component => ({
  id,
  parentId,
  name: id,
  description: null,
  region: null,
  position: 0,
  ownStatus: "operational",
  createdAt: t0,
  updatedAt: t0,
  ...extra,
});

describe("component tree", () => {
  const list = [
    comp("svc", null),
    comp("rentals", "svc"),
    comp("end", "rentals"),
    comp("end-milan", "end", { region: "milan" }),
    comp("end-rome", "end", { region: "rome", ownStatus: "under_maintenance" }),
  ];

  it("rolls the worst status up and inherits regions", () => {
    const tree = buildTree(list, new Map([["end-milan", ["degraded_performance", "major_outage"]]]));
    const nodes = new Map(flattenTree(tree).map((n) => [n.component.id, n]));
    expect(nodes.get("end-milan")!.status).toBe("major_outage");
    expect(nodes.get("svc")!.status).toBe("major_outage");
    expect(nodes.get("end-rome")!.status).toBe("under_maintenance");
    expect(nodes.get("end-milan")!.path).toEqual(["svc", "rentals", "end", "end-milan"]);
  });

  it("finds subtrees and refuses cycles and unknown parents", () => {
    expect([...subtreeIds(list, "rentals")].sort()).toEqual(["end", "end-milan", "end-rome", "rentals"]);
    expect(() => checkParent(list, "svc", "end-milan")).toThrow(/cycle/);
    expect(() => checkParent(list, "svc", "svc")).toThrow(AmendsError);
    expect(() => checkParent(list, "end-rome", "ghost")).toThrow(/ghost/);
    expect(() => checkParent(list, "end-rome", "svc")).not.toThrow();
  });
});

describe("incident transitions", () => {
  const opened = openIncident(
    {
      id: "INC-1",
      updateId: "u1",
      title: "Rentals cannot be ended",
      startedAt: t0,
      update: {
        body: "Investigating",
        components: [{ componentId: "end-milan", status: "major_outage" }],
        eta: at(600),
      },
    },
    at(10),
  );

  it("opens investigating with derived impact and its first update", () => {
    expect(opened.status).toBe("investigating");
    expect(opened.impact).toBe("critical");
    expect(opened.updates).toHaveLength(1);
    expect(opened.updates[0]!.components).toEqual([
      { componentId: "end-milan", oldStatus: "operational", newStatus: "major_outage" },
    ]);
  });

  it("keeps the ETA until changed, and each update replaces the next-update promise", () => {
    const a = postUpdate(opened, "u2", { status: "identified", body: "Found", nextUpdateBy: at(60) }, at(20));
    expect(a.eta).toEqual(at(600));
    expect(a.nextUpdateBy).toEqual(at(60));
    expect(a.identifiedAt).toEqual(at(20));
    const b = postUpdate(a, "u3", { body: "Still working", eta: null }, at(50));
    expect(b.eta).toBeNull();
    expect(b.nextUpdateBy).toBeNull();
    expect(b.status).toBe("identified");
  });

  it("resolving returns every component to operational and ends the timeline", () => {
    const r = postUpdate(opened, "u2", { status: "resolved", body: "Fixed" }, at(840));
    expect(r.resolvedAt).toEqual(at(840));
    expect(r.components).toEqual([{ componentId: "end-milan", status: "operational" }]);
    expect(r.updates[1]!.components).toEqual([
      { componentId: "end-milan", oldStatus: "major_outage", newStatus: "operational" },
    ]);
    expect(() => postUpdate(r, "u3", { body: "again" }, at(900))).toThrow(/resolved/);
  });

  it("refuses promises in the past, duplicate components and a start in the future", () => {
    expect(() => postUpdate(opened, "u2", { body: "x", nextUpdateBy: at(5) }, at(20))).toThrow(
      /next_update_by/,
    );
    expect(() =>
      postUpdate(
        opened,
        "u2",
        {
          body: "x",
          components: [
            { componentId: "a", status: "major_outage" },
            { componentId: "a", status: "partial_outage" },
          ],
        },
        at(20),
      ),
    ).toThrow(/components.1.id/);
    expect(() => editIncident(opened, { startedAt: at(60) }, at(20))).toThrow(/started_at/);
  });

  it("derives impact and the page indicator", () => {
    expect(impactOf([])).toBe("none");
    expect(impactOf([{ componentId: "x", status: "degraded_performance" }])).toBe("minor");
    expect(pageIndicator(["operational"], [])).toEqual({
      indicator: "none",
      description: "All Systems Operational",
    });
    expect(pageIndicator(["under_maintenance"], []).indicator).toBe("maintenance");
    expect(pageIndicator(["under_maintenance", "partial_outage"], ["minor"]).indicator).toBe("major");
    expect(pageIndicator(["operational"], ["critical"]).indicator).toBe("critical");
  });
});
