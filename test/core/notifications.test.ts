import { describe, expect, it } from "vitest";
import type { Component } from "../../src/core/components.ts";
import {
  estimate,
  eventScope,
  pickLocale,
  releaseAt,
  smsSegments,
  subscriberMatches,
} from "../../src/core/notifications.ts";

const at = new Date("2026-01-01T00:00:00Z");
const c = (id: string, parentId: string | null, region: string | null = null): Component => ({
  id,
  parentId,
  name: id,
  description: null,
  region,
  position: 0,
  ownStatus: "operational",
  createdAt: at,
  updatedAt: at,
});
const tree = [
  c("end-rental", null),
  c("end-rental-milan", "end-rental", "milan"),
  c("end-rental-rome", "end-rental", "rome"),
  c("payments", null),
];

describe("audience scope", () => {
  it("reaches ancestors' and descendants' followers and the regions below", () => {
    const city = eventScope(tree, ["end-rental-milan"]);
    expect([...city.components].sort()).toEqual(["end-rental", "end-rental-milan"]);
    expect([...city.regions]).toEqual(["milan"]);
    const service = eventScope(tree, ["end-rental"]);
    expect([...service.regions].sort()).toEqual(["milan", "rome"]);
    expect(subscriberMatches({ components: ["end-rental-rome"], regions: [] }, service)).toBe(true);
    expect(subscriberMatches({ components: ["end-rental-rome"], regions: [] }, city)).toBe(false);
    expect(subscriberMatches({ components: [], regions: ["milan"] }, city)).toBe(true);
    expect(subscriberMatches({ components: ["payments"], regions: [] }, city)).toBe(false);
    expect(subscriberMatches({ components: [], regions: [] }, city)).toBe(true);
  });
});

describe("quiet hours", () => {
  const quiet = { start: "22:00", end: "07:00", time_zone: "Europe/Rome" };
  it("holds until the local end of quiet hours, across midnight and DST", () => {
    // 23:30 in Rome (UTC+1 in winter) → 07:00 next morning local = 06:00Z
    expect(releaseAt(quiet, new Date("2026-01-10T22:30:00Z"), false).toISOString()).toBe(
      "2026-01-11T06:00:00.000Z",
    );
    // 03:00 local → 07:00 the same morning
    expect(releaseAt(quiet, new Date("2026-01-10T02:00:00Z"), false).toISOString()).toBe(
      "2026-01-10T06:00:00.000Z",
    );
    // summer (UTC+2): 23:00 local → 05:00Z
    expect(releaseAt(quiet, new Date("2026-07-10T21:00:00Z"), false).toISOString()).toBe(
      "2026-07-11T05:00:00.000Z",
    );
  });
  it("lets critical news and daytime messages through", () => {
    const night = new Date("2026-01-10T22:30:00Z");
    expect(releaseAt(quiet, night, true)).toBe(night);
    const noon = new Date("2026-01-10T11:00:00Z");
    expect(releaseAt(quiet, noon, false)).toBe(noon);
    expect(releaseAt({ start: "09:00", end: "17:00", time_zone: "UTC" }, noon, false).toISOString()).toBe(
      "2026-01-10T17:00:00.000Z",
    );
  });
});

describe("SMS segments and cost", () => {
  it("counts GSM-7 and UCS-2 segments", () => {
    expect(smsSegments("a".repeat(160))).toEqual({ encoding: "gsm7", segments: 1 });
    expect(smsSegments("a".repeat(161))).toEqual({ encoding: "gsm7", segments: 2 });
    expect(smsSegments("€".repeat(80))).toEqual({ encoding: "gsm7", segments: 1 }); // 2 septets each
    expect(smsSegments("è".repeat(160))).toEqual({ encoding: "gsm7", segments: 1 });
    expect(smsSegments("ł".repeat(70))).toEqual({ encoding: "ucs2", segments: 1 });
    expect(smsSegments("ł".repeat(71))).toEqual({ encoding: "ucs2", segments: 2 });
    // Parts of 153 septets / 67 units; a two-septet character or a surrogate pair is never split.
    expect(smsSegments("a".repeat(306))).toEqual({ encoding: "gsm7", segments: 2 });
    expect(smsSegments("a".repeat(307))).toEqual({ encoding: "gsm7", segments: 3 });
    expect(smsSegments(`${"a".repeat(152)}€${"a".repeat(100)}`)).toEqual({ encoding: "gsm7", segments: 2 });
    expect(smsSegments(`${"a".repeat(152)}€${"a".repeat(152)}`)).toEqual({ encoding: "gsm7", segments: 3 });
    expect(smsSegments(`${"ł".repeat(66)}😀${"ł".repeat(60)}`)).toEqual({ encoding: "ucs2", segments: 2 });
    expect(smsSegments(`${"ł".repeat(66)}😀${"ł".repeat(66)}`)).toEqual({ encoding: "ucs2", segments: 3 });
    // The figure: 397 GSM characters are 3 segments, not 1.
    expect(smsSegments("a".repeat(397)).segments).toBe(3);
  });
  it("prices segments per country exactly and rounds once", () => {
    const e = estimate(
      { email: 10, sms: 3 },
      {
        IT: { messages: 2, segments: 3 },
        DE: { messages: 1, segments: 1 },
        US: { messages: 1, segments: 1 },
      },
      { IT: { price: "0.0725", currency: "EUR" }, DE: { price: "0.0801", currency: "EUR" } },
      { amount: 20, currency: "EUR" },
      () => 2,
    );
    // 3 × 0.0725 + 0.0801 = 0.2976 → 0.30 EUR
    expect(e.sms.cost).toEqual([{ currency: "EUR", amount: 30 }]);
    expect(e.sms.unpriced).toBe(1);
    expect(e.needsConfirmation).toBe(true);
  });
});

it("picks the reader's language, else the stated fallback", () => {
  expect(pickLocale("it-IT", ["en", "it"], "en")).toBe("it");
  expect(pickLocale("pt-BR", ["en", "it"], "it")).toBe("it");
  expect(pickLocale(null, ["en", "it"], "xx")).toBe("en");
});
