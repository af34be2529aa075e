/**
 * car2go, November 2014: rentals were charged twice. Each customer hit gets one message, in their
 * language, saying exactly what they got: the duplicate refunded (one total per currency) and 30
 * free minutes in their home city, with how long they are valid and from when they can be used.
 * Nobody has to claim anything, and nobody hears twice when the run is applied again.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BACKENDS } from "../support/backends.ts";
import { expectCustomerWords, importCsv, ok, onePerRecipient, startWorld, type World } from "./world.ts";

const POLICY = readFileSync(
  new URL("../../examples/policies/car2go-2014-double-charge.yaml", import.meta.url),
  "utf8",
);

describe.each(BACKENDS)("car2go 2014 double charge on %s", (backend) => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld(backend);
    const { t } = w;
    await ok(t, "POST", "/api/v1/components", { id: "billing", name: "Billing" });
    await ok(t, "POST", "/api/v1/components", { id: "city-berlin", name: "Berlin", region: "berlin" });
    await ok(t, "POST", "/api/v1/components", { id: "city-hamburg", name: "Hamburg", region: "hamburg" });
    await importCsv(
      t,
      "customers",
      [
        "id,name,home_region,locale,email,currency",
        "K1,Klara Schmidt,berlin,de,klara@example.de,EUR",
        "K2,Giulia Conti,hamburg,it,giulia@example.it,EUR",
        "K6,Ben Weber,berlin,en,ben@example.com,EUR",
      ].join("\n"),
    );
    await importCsv(
      t,
      "charges",
      [
        "id,customer_id,usage_ref,amount,currency,status,created_at,amount_refunded",
        "ch_1001,K1,R1,1160,EUR,succeeded,2014-11-10T08:15:02Z,0",
        "ch_1002,K1,R1,1160,EUR,succeeded,2014-11-10T08:15:04Z,0",
        "ch_1003,K1,R2,1160,EUR,succeeded,2014-11-10T18:02:00Z,0",
        "ch_1004,K2,R3,870,EUR,succeeded,2014-11-11T09:00:00Z,0",
        "ch_1005,K2,R3,870,EUR,succeeded,2014-11-12T02:00:00Z,0",
        "ch_1006,K2,R3,870,EUR,succeeded,2014-11-13T02:00:00Z,0",
      ].join("\n"),
    );
    await ok(t, "POST", "/api/v1/incidents", {
      id: "INC-2014-11-double-charge",
      title: "Some rentals were charged twice",
      body: "We are refunding every duplicate charge.",
      translations: {
        it: {
          title: "Alcuni noleggi sono stati addebitati due volte",
          body: "Rimborsiamo ogni addebito doppio.",
        },
        de: {
          title: "Einige Fahrten wurden doppelt abgebucht",
          body: "Wir erstatten jede doppelte Abbuchung.",
        },
      },
      started_at: "2014-11-10T00:00:00Z",
      components: [{ id: "billing", status: "partial_outage" }],
      notify: false,
    });
    await ok(t, "POST", "/api/v1/incidents/INC-2014-11-double-charge/resolve", {
      resolved_at: "2014-11-14T00:00:00Z",
      notify: false,
    });
  }, 90_000);
  afterAll(async () => w?.close());

  it("tells each customer once what they got, with its terms", async () => {
    const policy = await ok(w.t, "POST", "/api/v1/compensation/policies", { yaml: POLICY });
    const run = await ok(w.t, "POST", "/api/v1/compensation/preview", {
      incident: "INC-2014-11-double-charge",
      policy: policy.id,
      as_of: "2014-11-17T10:00:00Z",
      detected_at: "2014-11-14T09:00:00Z",
    });
    await ok(w.t, "POST", `/api/v1/compensation/runs/${run.id}/approve`, {});
    await ok(w.t, "POST", `/api/v1/compensation/runs/${run.id}/apply`, {});
    await ok(w.t, "POST", `/api/v1/compensation/runs/${run.id}/apply`, {});
    const got = onePerRecipient(await w.settle());
    // Ben had no duplicate: nothing was due, and nobody writes to him about it.
    expect([...got.keys()].sort()).toEqual(["email:giulia@example.it", "email:klara@example.de"]);
    for (const m of got.values()) expectCustomerWords(m, ["K1", "K2", "K6", "ch_100", "run_"]);

    // Giulia: two duplicates of 8,70 € are one refund of 17,40 €; 30 minutes in Hamburg, usable
    // from 19 November 2014 (visible within two days) until 15 February 2015 (90 days).
    const giulia = got.get("email:giulia@example.it")!;
    expect(giulia.lang).toBe("it");
    expect(giulia.text).toContain("17,40 €");
    expect(giulia.text).not.toContain("8,70 €");
    expect(giulia.text).toMatch(/30 minuti/);
    expect(giulia.text).toContain("Hamburg");
    expect(giulia.text).toMatch(/15 feb(braio|\.)? 2015/);
    expect(giulia.text).toMatch(/19 nov(embre|\.)? 2014/);
    const klara = got.get("email:klara@example.de")!;
    expect(klara.lang).toBe("de");
    expect(klara.text).toContain("11,60 €");
    expect(klara.text).toMatch(/30 (Freiminuten|Minuten)/);
    expect(klara.text).toContain("Berlin");
    expect(klara.text).toMatch(/15\. Feb(ruar|\.)? 2015|15\.02\.2015/);
    expect(klara.text).toMatch(/19\. Nov(ember|\.)? 2014|19\.11\.2014/);
  });
});
