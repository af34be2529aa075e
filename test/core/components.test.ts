import { describe, expect, it } from "vitest";
import {
  buildTree,
  type Component,
  type ComponentStatus,
  flattenTree,
  publicComponentIds,
  subtreesOf,
} from "../../src/core/components.ts";

const t0 = new Date("2026-12-01T10:00:00Z");
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

// App › Milan, Rome, Denver; Payments › Payments Milan; Internal (ops only) › Queue.
const list = [
  comp("app", null),
  comp("app-milan", "app", { region: "milan" }),
  comp("app-rome", "app", { region: "rome" }),
  comp("app-denver", "app", { region: "denver" }),
  comp("payments", null),
  comp("payments-milan", "payments", { region: "milan" }),
  comp("internal", null),
  comp("queue", "internal"),
];
const statuses = (tree: ReturnType<typeof buildTree>) =>
  Object.fromEntries(flattenTree(tree).map((n) => [n.component.id, n.status]));
const open = (entries: [string, ComponentStatus][]) => new Map(entries.map(([id, s]) => [id, [s]]));

describe("a component's status, as a customer reads it", () => {
  it("is affected when an ancestor is: an incident on App reaches every city under it", () => {
    const s = statuses(buildTree(list, open([["app", "partial_outage"]])));
    expect(s).toMatchObject({
      app: "partial_outage",
      "app-milan": "partial_outage",
      "app-rome": "partial_outage",
      "app-denver": "partial_outage",
      payments: "operational",
      "payments-milan": "operational",
    });
  });

  it("rolls a child's failure up to its parent but not across to its siblings", () => {
    const s = statuses(buildTree(list, open([["app-milan", "major_outage"]])));
    expect(s).toMatchObject({ app: "major_outage", "app-milan": "major_outage", "app-rome": "operational" });
  });

  it("takes the worst of what is set on itself and above it, own status and maintenance included", () => {
    const withOwn = list.map((c) =>
      c.id === "app" ? { ...c, ownStatus: "degraded_performance" as const } : c,
    );
    const s = statuses(
      buildTree(
        withOwn,
        open([
          ["app-rome", "major_outage"],
          ["payments", "under_maintenance"],
        ]),
      ),
    );
    expect(s).toMatchObject({
      app: "major_outage",
      "app-milan": "degraded_performance",
      "app-rome": "major_outage",
      "payments-milan": "under_maintenance",
    });
  });

  it("knows each node's ancestors, root first", () => {
    const nodes = new Map(flattenTree(buildTree(list)).map((n) => [n.component.id, n]));
    expect(nodes.get("app-milan")!.ancestorIds).toEqual(["app"]);
    expect(nodes.get("app")!.ancestorIds).toEqual([]);
  });
});

describe("which components the public may see", () => {
  const pages = (...p: [string[], boolean][]) =>
    p.map(([components, priv]) => ({ components, private: priv }));
  const sorted = (s: Set<string>) => [...s].sort();

  it("is everything, without private pages", () => {
    expect(publicComponentIds(list, [])).toEqual(new Set(list.map((c) => c.id)));
    expect(publicComponentIds(list, pages([["app-milan"], false]))).toEqual(new Set(list.map((c) => c.id)));
  });

  it("hides what only private pages show, with its subtree", () => {
    const shown = publicComponentIds(list, pages([["internal"], true]));
    expect(sorted(shown)).toEqual([
      "app",
      "app-denver",
      "app-milan",
      "app-rome",
      "payments",
      "payments-milan",
    ]);
  });

  it("keeps what a public page also shows, and the path down to it", () => {
    const shown = publicComponentIds(list, pages([["app", "payments"], true], [["app-milan"], false]));
    expect(sorted(shown)).toEqual(["app", "app-milan", "internal", "queue"]);
  });

  it("walks subtrees of many roots at once", () => {
    expect(sorted(subtreesOf(list, ["app", "queue"]))).toEqual([
      "app",
      "app-denver",
      "app-milan",
      "app-rome",
      "queue",
    ]);
  });
});
