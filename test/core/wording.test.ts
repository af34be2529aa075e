import { describe, expect, it } from "vitest";
import type { Component } from "../../src/core/components.ts";
import {
  componentPath,
  formatAmount,
  formatMessageDay,
  formatMessageTime,
  listText,
  moneyTotals,
  regionNames,
} from "../../src/core/wording.ts";

const component = (id: string, name: string, parentId: string | null, region: string | null, position = 0) =>
  ({
    id,
    name,
    parentId,
    region,
    position,
    description: null,
    ownStatus: "operational",
    createdAt: new Date(0),
    updatedAt: new Date(0),
  }) satisfies Component;

/** Intl separates amount and currency with a no-break space. */
const plain = (s: string | string[]) =>
  Array.isArray(s) ? s.map((x) => x.replace(/\u00a0/g, " ")) : s.replace(/\u00a0/g, " ");

describe("customer-facing wording", () => {
  it("gives times in the reader's zone and names the zone, never as ISO", () => {
    const at = "2026-12-04T15:00:35.000Z";
    expect(formatMessageTime(at, "it", "Europe/Rome")).toBe("4 dic 2026, 16:00 CET");
    expect(formatMessageTime(at, "en", "Europe/Rome")).toBe("4 Dec 2026, 16:00 CET");
    expect(formatMessageTime(at, "de", "Europe/Berlin")).toMatch(/16:00 MEZ$/);
    expect(formatMessageTime(at, "en", "America/Denver")).toMatch(/08:00 GMT-7$/);
    expect(formatMessageTime(new Date(at), "fr", "UTC")).toMatch(/15:00 UTC$/);
    for (const l of ["en", "it", "de", "fr", "es"])
      expect(formatMessageTime(at, l, "Europe/Rome")).not.toMatch(/\d{4}-\d{2}-\d{2}T/);
  });

  it("gives days in words", () => {
    expect(formatMessageDay("2027-03-04T10:00:00Z", "en", "Europe/Rome")).toBe("4 March 2027");
    expect(formatMessageDay("2027-03-04T10:00:00Z", "it", "Europe/Rome")).toBe("4 marzo 2027");
    // The day is the reader's: 23:30 UTC is already the next day in Rome.
    expect(formatMessageDay("2027-03-04T23:30:00Z", "it", "Europe/Rome")).toBe("5 marzo 2027");
  });

  it("adds money up to one total per currency, in minor units and without floats", () => {
    expect(
      plain(
        moneyTotals(
          [
            { amount: 850, currency: "EUR" },
            { amount: 850, currency: "EUR" },
          ],
          "it",
        ),
      ),
    ).toEqual(["17,00 €"]);
    expect(
      moneyTotals(
        [
          { amount: 1, currency: "USD" },
          { amount: 1_000, currency: "JPY" },
          { amount: 2, currency: "USD" },
        ],
        "en",
      ),
    ).toEqual(["JP¥1,000", "US$0.03"]);
    expect(plain(formatAmount(900719925474099, "EUR", "de"))).toBe("9.007.199.254.740,99 €");
    expect(plain(listText(["30 minuti gratuiti", "un rimborso di 17,00 €"], "it"))).toBe(
      "30 minuti gratuiti e un rimborso di 17,00 €",
    );
  });

  it("names places and components by their display names", () => {
    const tree = [
      component("app", "App", null, null),
      component("app-milan", "Milan", "app", "milan", 0),
      component("app-milan-72", "Tower 72", "app-milan", "milan-72"),
      component("payments", "Payments", null, null, 1),
      component("payments-rome", "Rome", "payments", "rome"),
      component("payments-milan", "Milano (pagamenti)", "payments", "milan", 1),
    ];
    const name = regionNames(tree);
    expect(name("milan")).toBe("Milan"); // the shallowest, first component that introduces it
    expect(name("rome")).toBe("Rome");
    expect(name("milan-72")).toBe("Tower 72");
    expect(name("tower-sondrio")).toBe("Tower sondrio"); // no component names it: never the raw id
    expect(componentPath(tree, "payments-rome")).toBe("Payments › Rome");
    expect(componentPath(tree, "app-milan-72")).toBe("App › Milan › Tower 72");
  });
});
