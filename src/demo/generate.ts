/**
 * The demo workspace, generated deterministically from a seed and a reference day: "The Fleet",
 * a car-sharing company in six cities with ~2,000 customers, ~20,000 rentals over the past 30
 * days, and one past outage modelled on car2go's 19 Dec 2017 (rentals could not be ended
 * anywhere from 02:00 to 16:00 UTC), moved to a week before the reference day.
 *
 * Pure: no clock, no randomness beyond the seeded generator, no I/O.
 */

import type { ChargeRow, CustomerRow, SessionRow } from "../company-data/store.ts";
import type { Component } from "../core/components.ts";
import { type Incident, openIncident, postUpdate } from "../core/incidents.ts";
import { prng } from "../lib/prng.ts";

export interface DemoCity {
  region: string;
  name: string;
  currency: string;
  /** Price per started minute, in minor units. */
  perMinute: number;
  locales: string[];
  phonePrefix: string;
  weight: number;
}

export const DEMO_CITIES: DemoCity[] = [
  {
    region: "milan",
    name: "Milan",
    currency: "EUR",
    perMinute: 29,
    locales: ["it", "en"],
    phonePrefix: "+39 347",
    weight: 22,
  },
  {
    region: "rome",
    name: "Rome",
    currency: "EUR",
    perMinute: 29,
    locales: ["it"],
    phonePrefix: "+39 338",
    weight: 18,
  },
  {
    region: "berlin",
    name: "Berlin",
    currency: "EUR",
    perMinute: 29,
    locales: ["de", "en"],
    phonePrefix: "+49 151",
    weight: 20,
  },
  {
    region: "hamburg",
    name: "Hamburg",
    currency: "EUR",
    perMinute: 29,
    locales: ["de"],
    phonePrefix: "+49 160",
    weight: 14,
  },
  {
    region: "toronto",
    name: "Toronto",
    currency: "CAD",
    perMinute: 41,
    locales: ["en", "fr"],
    phonePrefix: "+1 416",
    weight: 14,
  },
  {
    region: "denver",
    name: "Denver",
    currency: "USD",
    perMinute: 41,
    locales: ["en", "es"],
    phonePrefix: "+1 303",
    weight: 12,
  },
];

export const DEMO_FUNCTIONS = [
  { id: "app", name: "App" },
  { id: "start-rental", name: "Start rental", parent: "rentals" },
  { id: "end-rental", name: "End rental", parent: "rentals" },
  { id: "payments", name: "Payments" },
] as const;

/** A component as the demo creates it; the loader stamps the times. */
export type DemoComponent = Omit<Component, "createdAt" | "updatedAt">;

export interface DemoData {
  workspace: { slug: string; name: string; timeZone: string };
  components: DemoComponent[];
  customers: CustomerRow[];
  sessions: SessionRow[];
  charges: ChargeRow[];
  outage: Incident;
}

const FIRST = [
  "Giulia",
  "Marco",
  "Anna",
  "Luca",
  "Lena",
  "Jonas",
  "Sofia",
  "Felix",
  "Emma",
  "Noah",
  "Chloé",
  "Liam",
  "Mateo",
  "Olivia",
  "Paul",
  "Sara",
];
const LAST = [
  "Rossi",
  "Bianchi",
  "Müller",
  "Schmidt",
  "Ferrari",
  "Weber",
  "Tremblay",
  "Martin",
  "Garcia",
  "Smith",
  "Romano",
  "Fischer",
  "Roy",
  "Lopez",
  "Conti",
  "Becker",
];

const MINUTE = 60_000;
const DAY = 86_400_000;

export function generateDemo(
  reference: Date,
  options: { seed?: number; customers?: number; rentals?: number } = {},
): DemoData {
  const random = prng(options.seed ?? 20171219);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const totalWeight = DEMO_CITIES.reduce((s, c) => s + c.weight, 0);
  const pickCity = () => {
    let r = random() * totalWeight;
    for (const c of DEMO_CITIES) {
      r -= c.weight;
      if (r < 0) return c;
    }
    return DEMO_CITIES[0]!;
  };

  const components: DemoComponent[] = [
    {
      id: "car-sharing",
      parentId: null,
      name: "Car sharing",
      description: "The Fleet's car-sharing service",
      region: null,
      position: 0,
      ownStatus: "operational",
    },
    {
      id: "rentals",
      parentId: "car-sharing",
      name: "Rentals",
      description: "Starting and ending rentals",
      region: null,
      position: 1,
      ownStatus: "operational",
    },
  ];
  DEMO_FUNCTIONS.forEach((f, i) => {
    const parent = "parent" in f ? f.parent : "car-sharing";
    components.push({
      id: f.id,
      parentId: parent,
      name: f.name,
      description: null,
      region: null,
      position: i,
      ownStatus: "operational",
    });
    DEMO_CITIES.forEach((city, j) => {
      components.push({
        id: `${f.id}-${city.region}`,
        parentId: f.id,
        name: city.name,
        description: null,
        region: city.region,
        position: j,
        ownStatus: "operational",
      });
    });
  });

  const customerCount = options.customers ?? 2_000;
  const customers: (CustomerRow & { city: DemoCity })[] = [];
  for (let i = 1; i <= customerCount; i++) {
    const city = pickCity();
    const first = pick(FIRST);
    const last = pick(LAST);
    const id = `C${String(i).padStart(5, "0")}`;
    const plus = random() < 0.15;
    const channels = [
      {
        type: "email",
        address: `${first}.${last}.${i}@example.com`
          .toLowerCase()
          .normalize("NFD")
          .replace(/[\u0300-\u036f]/g, ""),
      },
    ];
    if (random() < 0.3)
      channels.push({ type: "sms", address: `${city.phonePrefix} ${String(int(1_000_000, 9_999_999))}` });
    customers.push({
      id,
      name: `${first} ${last}`,
      homeRegion: city.region,
      plan: plus ? "plus" : "per-minute",
      locale: pick(city.locales),
      channels,
      // SMS alerts come with the Plus plan (a paid add-on, as DiRete sells them).
      smsEntitled: plus,
      monthlyFee: plus ? (city.currency === "EUR" ? 990 : 1290) : 0,
      currency: city.currency,
      city,
    });
  }

  const day = Date.UTC(reference.getUTCFullYear(), reference.getUTCMonth(), reference.getUTCDate());
  const windowStart = new Date(day - 7 * DAY + 2 * 60 * MINUTE);
  const windowEnd = new Date(day - 7 * DAY + 16 * 60 * MINUTE);
  const historyStart = day - 30 * DAY;
  const historyEnd = reference.getTime() - 2 * 60 * MINUTE;

  const rentalCount = options.rentals ?? 20_000;
  const sessions: SessionRow[] = [];
  const charges: ChargeRow[] = [];
  for (let i = 1; i <= rentalCount; i++) {
    const customer = customers[Math.floor(random() ** 1.3 * customers.length)]!;
    const city = random() < 0.95 ? customer.city : pickCity();
    // Busier by day than by night: redraw night-time starts half of the time.
    let start = historyStart + random() * (historyEnd - historyStart);
    const hour = new Date(start).getUTCHours();
    if ((hour < 6 || hour > 22) && random() < 0.5)
      start = historyStart + random() * (historyEnd - historyStart);
    start = Math.floor(start / 1000) * 1000;
    let minutes = Math.max(5, Math.round(8 + 50 * random() ** 2 + 60 * random() ** 6));
    let end = start + minutes * MINUTE;
    // The outage: a rental that should have ended inside the window could not be ended before it closed.
    if (end > windowStart.getTime() && end < windowEnd.getTime() && start < windowEnd.getTime()) {
      end = windowEnd.getTime() + int(1, 40) * MINUTE;
      minutes = Math.ceil((end - start) / MINUTE);
    }
    if (end > historyEnd) continue;
    const id = `R${String(i).padStart(6, "0")}`;
    const amount = minutes * city.perMinute;
    // A few stranded customers wrote to support and got part of their money back by hand.
    const refunded =
      end > windowEnd.getTime() && start < windowEnd.getTime() && random() < 0.05
        ? Math.floor(amount / 2)
        : 0;
    sessions.push({
      id,
      customerId: customer.id,
      kind: "rental",
      componentId: `end-rental-${city.region}`,
      region: city.region,
      startedAt: new Date(start),
      endedAt: new Date(end),
      charge: amount,
      currency: city.currency,
      refunded,
    });
    charges.push({
      id: `ch_${id}`,
      customerId: customer.id,
      usageRef: id,
      amount,
      currency: city.currency,
      status: "succeeded",
      createdAt: new Date(end + 20_000),
      amountRefunded: refunded,
    });
  }

  const affected = DEMO_CITIES.map((c) => ({
    componentId: `end-rental-${c.region}`,
    status: "major_outage" as const,
  }));
  const at = (minutes: number) => new Date(windowStart.getTime() + minutes * MINUTE);
  const date = windowStart.toISOString().slice(0, 10);
  let outage = openIncident(
    {
      id: `INC-${date}-end-rental`,
      updateId: `${date}-u1`,
      title: "Rentals cannot be ended in any city",
      impact: "critical",
      startedAt: windowStart,
      update: {
        status: "investigating",
        body: "Rentals cannot be ended in the app or at the car in all cities. Please leave the car parked safely; you will not be charged for the time you could not end your rental. No need to contact support.",
        components: affected,
        nextUpdateBy: at(80),
        createdBy: "demo",
      },
    },
    at(20),
  );
  outage = postUpdate(
    outage,
    `${date}-u2`,
    {
      status: "identified",
      body: "Routine maintenance on the rental backend failed and the cars lost their link to it. We are rolling it back.",
      eta: at(10 * 60),
      nextUpdateBy: at(4 * 60),
      createdBy: "demo",
    },
    at(75),
  );
  outage = postUpdate(
    outage,
    `${date}-u3`,
    {
      status: "monitoring",
      body: "The rollback is done and rentals can be ended again in Milan, Rome, Berlin and Hamburg. Toronto and Denver follow within the hour.",
      components: affected.slice(0, 4).map((c) => ({ ...c, status: "operational" as const })),
      eta: at(14 * 60),
      nextUpdateBy: at(14 * 60),
      createdBy: "demo",
    },
    at(12 * 60 + 30),
  );
  outage = postUpdate(
    outage,
    `${date}-u4`,
    {
      status: "resolved",
      body: "Rentals can be ended everywhere. Time you could not end your rental will be refunded automatically.",
      createdBy: "demo",
    },
    windowEnd,
  );

  return {
    workspace: { slug: "fleet", name: "The Fleet", timeZone: "Europe/Rome" },
    components,
    customers: customers.map(({ city: _, ...c }) => c),
    sessions,
    charges,
    outage,
  };
}
