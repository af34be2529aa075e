/**
 * car2go, December 2017: during maintenance, rentals could not be ended anywhere for 14 hours.
 * An operator opens the incident from the CLI in one line; every city's customers hear it at
 * once, then in their own language when support adds the translated update, and when it is over.
 * Afterwards the worked policy (shared/research/compensation.md, example A) refunds the stranded
 * rentals with nobody writing in: each customer owed money gets one message with one total, one
 * whose rental barely touched it is told nothing is due, those it missed hear nothing more, and
 * applying the run again sends nothing.
 */
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BACKENDS } from "../support/backends.ts";
import { expectCustomerWords, importCsv, ok, onePerRecipient, startWorld, type World } from "./world.ts";

const POLICY = fileURLToPath(new URL("../../examples/policies/car2go-2017-outage.yaml", import.meta.url));
const INCIDENT = "INC-2017-12-19";
const INTERNAL = [
  INCIDENT,
  "rental-backend",
  "partner-fleet",
  "rental-milan",
  "run_",
  "upd_",
  "msg_",
  "S1",
  "S4",
];
/** every city's customers, and the public account */
const EVERYONE = [
  "email:anna@example.de",
  "email:emma@example.co.uk",
  "email:giulia@example.it",
  "email:jonas@example.de",
  "email:luca@example.it",
  "mastodon:public",
];

describe.each(BACKENDS)("car2go 2017 end-rental blackout on %s", (backend) => {
  let w: World;
  // The outage began 15 hours ago and lasted 14: the worked example's 02:00–16:00, shifted.
  const t0 = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 15 * 3_600_000);
  const at = (minutes: number) => new Date(t0.getTime() + minutes * 60_000).toISOString();

  beforeAll(async () => {
    w = await startWorld(backend);
    const { t } = w;
    await ok(t, "POST", "/api/v1/components", { id: "rentals", name: "Rentals" });
    await ok(t, "POST", "/api/v1/components", {
      id: "rental-backend",
      name: "Ending a rental",
      parent_id: "rentals",
    });
    for (const [id, name, region] of [
      ["rental-milan", "Milan", "milan"],
      ["rental-berlin", "Berlin", "berlin"],
      ["rental-hamburg", "Hamburg", "hamburg"],
    ])
      await ok(t, "POST", "/api/v1/components", { id, name, region, parent_id: "rental-backend" });
    await ok(t, "POST", "/api/v1/components", { id: "partner-fleet", name: "Partner fleet" });
    await ok(t, "PUT", "/api/v1/notification-settings", {
      notify_affected_customers: true,
      public_url: "https://status.car2go.test",
    });
    await importCsv(
      t,
      "customers",
      [
        "id,name,home_region,locale,email,currency",
        "C1,Giulia Conti,milan,it,giulia@example.it,EUR",
        "C2,Jonas Keller,berlin,de,jonas@example.de,EUR",
        "C3,Emma Brown,hamburg,en,emma@example.co.uk,EUR",
        "C4,Luca Moretti,milan,it,luca@example.it,EUR",
        "C5,Anna Schulz,berlin,de,anna@example.de,EUR",
      ].join("\n"),
    );
    // Example A's rentals: C1 was stranded 7½ hours (and had 50,00 € back from support already)
    // and again at the end; C3 for 12½ minutes; C4 drove a partner car; C5 started as it ended;
    // C2's rental touched it for 30 seconds.
    await importCsv(
      t,
      "sessions",
      [
        "id,customer_id,kind,component_id,started_at,ended_at,charge,currency,refunded",
        `S1,C1,rental,rental-backend,${at(-20)},${at(430)},13050,EUR,5000`,
        `S3,C3,rental,rental-backend,${at(-12.5)},${at(12.5)},725,EUR,0`,
        `S4,C1,rental,rental-backend,${at(825)},${at(860)},1015,EUR,0`,
        `S5,C4,rental,partner-fleet,${at(60)},${at(180)},3480,EUR,0`,
        `S6,C5,rental,rental-backend,${at(840)},${at(870)},870,EUR,0`,
        `S7,C2,rental,rental-backend,${at(-0.5)},${at(0.5)},29,EUR,0`,
      ].join("\n"),
    );
  }, 90_000);
  afterAll(async () => w?.close());

  it("tells every city's customers once when the operator opens it from the CLI", async () => {
    const opened = await w.cli(
      "incident",
      "open",
      "--id",
      INCIDENT,
      "--title",
      "Rentals cannot be ended",
      "--body",
      "Park the car and leave it locked: you will not pay for the extra time.",
      "-c",
      "rental-backend=major_outage",
      "--eta",
      "2h",
    );
    expect(opened.id).toBe(INCIDENT);
    const got = onePerRecipient(await w.settle());
    expect([...got.keys()].sort()).toEqual(EVERYONE);
    // Nobody had written Italian or German yet: each reads the framing in their language.
    expect(got.get("email:giulia@example.it")!.lang).toBe("it");
    expect(got.get("email:jonas@example.de")!.lang).toBe("de");
    for (const m of got.values()) {
      expect(m.channel === "email" ? m.subject : m.text).toContain("Rentals cannot be ended");
      expectCustomerWords(m, INTERNAL);
    }
  });

  it("tells them again in their own language once support has written it", async () => {
    const before = w.mark();
    await ok(w.t, "POST", `/api/v1/incidents/${INCIDENT}/updates`, {
      body: "Park the car and leave it locked: you will not pay for the extra time. Our phone line is overloaded.",
      translations: {
        it: {
          body: "Parcheggia l'auto e chiudila: il tempo in più non si paga. Il numero di assistenza è sovraccarico.",
        },
        de: {
          body: "Parken Sie das Auto und schließen Sie es ab: Die Mehrzeit zahlen Sie nicht. Unsere Hotline ist überlastet.",
        },
      },
    });
    await w.settle();
    const got = onePerRecipient(w.since(before));
    expect([...got.keys()].sort()).toEqual(EVERYONE);
    expect(got.get("email:giulia@example.it")!.text).toContain("il tempo in più non si paga");
    expect(got.get("email:anna@example.de")!.text).toContain("Die Mehrzeit zahlen Sie nicht");
    expect(got.get("email:emma@example.co.uk")!.text).toContain("you will not pay for the extra time");
    for (const m of got.values()) expectCustomerWords(m, INTERNAL);
  });

  it("refunds the stranded rentals with one message each, once, when the run is applied", async () => {
    // The incident's real window, set after the fact: [02:00, 16:00) in the example's terms.
    await ok(w.t, "PATCH", `/api/v1/incidents/${INCIDENT}`, { started_at: t0.toISOString() });
    const beforeResolve = w.mark();
    await ok(w.t, "POST", `/api/v1/incidents/${INCIDENT}/resolve`, {
      body: "Rentals end normally again.",
      translations: {
        it: { body: "I noleggi si chiudono di nuovo normalmente." },
        de: { body: "Fahrten lassen sich wieder normal beenden." },
      },
      resolved_at: at(14 * 60),
    });
    await w.settle();
    const resolved = onePerRecipient(w.since(beforeResolve));
    expect([...resolved.keys()].sort()).toEqual(EVERYONE);
    expect(resolved.get("email:giulia@example.it")!.text).toContain(
      "I noleggi si chiudono di nuovo normalmente",
    );
    expect(resolved.get("email:jonas@example.de")!.text).toContain(
      "Fahrten lassen sich wieder normal beenden",
    );

    const { run } = await w.cli("compensate", "preview", INCIDENT, "--policy", POLICY);
    // Example A: C1 8050 + 435, C3 363; the partner car, the boundary and the 30 seconds excluded.
    expect(run.summary.money).toEqual({ EUR: 8848 });
    await w.cli("compensate", "approve", run.id);
    const before = w.mark();
    await w.cli("compensate", "apply", run.id);
    const again = await w.cli("compensate", "apply", run.id);
    expect(again.summary.money).toEqual({ EUR: 8848 });
    await w.settle();
    const got = onePerRecipient(w.since(before));
    // Jonas's rental touched the outage for 30 seconds, under the policy's minute: he is told, in
    // German, that nothing is due. Anna's began as it ended and Luca drove a partner car: silence.
    expect([...got.keys()].sort()).toEqual([
      "email:emma@example.co.uk",
      "email:giulia@example.it",
      "email:jonas@example.de",
    ]);
    const jonas = got.get("email:jonas@example.de")!;
    expect(jonas.lang).toBe("de");
    expect(jonas.text).toContain("Diesmal steht Ihnen nichts zu");
    expect(jonas.text).not.toContain("€");

    const giulia = got.get("email:giulia@example.it")!;
    expect(giulia.lang).toBe("it");
    expect(giulia.text).toContain("84,85 €");
    expect(giulia.text).not.toContain("80,50");
    expect(giulia.text).not.toContain("4,35");
    const emma = got.get("email:emma@example.co.uk")!;
    expect(emma.lang).toBe("en");
    expect(emma.text).toContain("€3.63");
    for (const m of got.values()) expectCustomerWords(m, INTERNAL);
  }, 90_000);
});
