/**
 * The three worked policies of shared/research/compensation.md as data: the acceptance tests.
 * Times are UTC. Customers not named in a row get defaults.
 */
import type { CompCharge, CompCustomer, CompSession } from "../../src/core/compensation/engine.ts";

const t = (s: string) => Date.parse(s);
const customer = (id: string, extra: Partial<CompCustomer> = {}): CompCustomer => ({
  id,
  homeRegion: null,
  plan: null,
  monthlyFee: null,
  currency: "EUR",
  ...extra,
});

export const A = {
  incident: { id: "INC-2017-12-19", start: "2017-12-19T02:00:00Z", end: "2017-12-19T16:00:00Z" },
  components: [
    { id: "rental-backend", parentId: null },
    { id: "partner-fleet", parentId: null },
  ],
  customers: ["C1", "C2", "C3", "C4", "C5"].map((id) => customer(id, { homeRegion: "milan" })),
  sessions: (
    [
      ["S1", "C1", "rental-backend", "01:40:00", "09:10:00", 13050, 5000],
      ["S3", "C3", "rental-backend", "01:47:30", "02:12:30", 725, 0],
      ["S4", "C1", "rental-backend", "15:45:00", "16:20:00", 1015, 0],
      ["S5", "C4", "partner-fleet", "03:00:00", "05:00:00", 3480, 0],
      ["S6", "C5", "rental-backend", "16:00:00", "16:30:00", 870, 0],
      ["S7", "C2", "rental-backend", "01:59:30", "02:00:30", 29, 0],
    ] as const
  ).map(
    ([id, cust, component, start, end, charge, refunded]): CompSession => ({
      id,
      customerId: cust,
      kind: "rental",
      componentId: component,
      region: "milan",
      start: t(`2017-12-19T${start}Z`),
      end: t(`2017-12-19T${end}Z`),
      charge,
      currency: "EUR",
      refunded,
    }),
  ),
};

export const B = {
  incident: {
    id: "INC-2014-11-double-charge",
    start: "2014-11-10T00:00:00Z",
    end: "2014-11-14T00:00:00Z",
    detected: "2014-11-14T09:00:00Z",
  },
  runAt: "2014-11-17T10:00:00Z",
  customers: [
    customer("K1", { homeRegion: "berlin" }),
    customer("K2", { homeRegion: "hamburg" }),
    customer("K3", { homeRegion: "munich" }),
    customer("K5", { homeRegion: "berlin" }),
    customer("K6", { homeRegion: "berlin" }),
  ],
  charges: (
    [
      ["ch_1001", "K1", "R1", 1160, "11-10T08:15:02", 0],
      ["ch_1002", "K1", "R1", 1160, "11-10T08:15:04", 0],
      ["ch_1003", "K1", "R2", 1160, "11-10T18:02:00", 0],
      ["ch_1004", "K2", "R3", 870, "11-11T09:00:00", 0],
      ["ch_1005", "K2", "R3", 870, "11-12T02:00:00", 0],
      ["ch_1006", "K2", "R3", 870, "11-13T02:00:00", 0],
      ["ch_1007", "K3", "R4", 2030, "11-12T12:00:00", 0],
      ["ch_1008", "K3", "R4", 2030, "11-12T12:00:01", 2030],
      ["ch_1011", "K5", "R6", 640, "11-15T10:00:00", 0],
      ["ch_1012", "K5", "R6", 640, "11-15T10:00:03", 0],
      ["ch_1013", "K6", null, 900, "11-11T07:00:00", 0],
      ["ch_1014", "K6", null, 900, "11-11T07:04:00", 0],
    ] as const
  ).map(
    ([id, cust, ref, amount, created, refunded]): CompCharge => ({
      id,
      customerId: cust,
      usageRef: ref,
      amount,
      currency: "EUR",
      status: "succeeded",
      createdAt: t(`2014-${created}Z`),
      amountRefunded: refunded,
    }),
  ),
};

/**
 * C: each customer's connectivity history. Everyone was online on their tower before the power
 * cut; `restored_at` is the first session after it (none: still down when the incident ended).
 */
export const C = {
  incident: { id: "INC-T17-power", start: "2025-03-06T14:00:00Z", end: "2025-03-13T16:00:00Z" },
  components: [
    { id: "towers", parentId: null },
    { id: "tower:T-17", parentId: "towers" },
    { id: "tower:T-18", parentId: "towers" },
  ],
  customers: [
    customer("U1", { plan: "residential", monthlyFee: 3000, currency: "GBP", homeRegion: "north-valley" }),
    customer("U2", { plan: "residential", monthlyFee: 3000, currency: "GBP", homeRegion: "north-valley" }),
    customer("U3", { plan: "residential", monthlyFee: 3000, currency: "GBP", homeRegion: "north-valley" }),
    customer("B1", { plan: "business", monthlyFee: 6000, currency: "GBP", homeRegion: "north-valley" }),
    customer("B2", { plan: "business", monthlyFee: 4500, currency: "GBP", homeRegion: "north-valley" }),
  ],
  sessions: (
    [
      ["U1-a", "U1", "tower:T-17", "2025-03-01T00:00:00Z", "2025-03-06T14:00:00Z"],
      ["U1-b", "U1", "tower:T-17", "2025-03-13T16:00:00Z", null],
      ["U2-a", "U2", "tower:T-17", "2025-03-01T00:00:00Z", "2025-03-06T14:00:00Z"],
      ["U2-b", "U2", "tower:T-18", "2025-03-06T23:00:00Z", null],
      ["U3-a", "U3", "tower:T-18", "2025-03-01T00:00:00Z", null],
      ["B1-a", "B1", "tower:T-17", "2025-03-01T00:00:00Z", "2025-03-06T14:00:00Z"],
      ["B1-b", "B1", "tower:T-17", "2025-03-13T16:00:00Z", null],
      ["B2-a", "B2", "tower:T-17", "2025-03-01T00:00:00Z", "2025-03-06T14:00:00Z"],
      ["B2-b", "B2", "tower:T-18", "2025-03-06T23:00:00Z", null],
    ] as const
  ).map(
    ([id, cust, component, start, end]): CompSession => ({
      id,
      customerId: cust,
      kind: "connectivity",
      componentId: component,
      region: "north-valley",
      start: t(start),
      end: end ? t(end) : null,
      charge: 0,
      currency: "GBP",
      refunded: 0,
    }),
  ),
};
