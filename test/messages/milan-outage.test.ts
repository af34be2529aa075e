/**
 * A city outage: rentals cannot be ended in Milan. Milan's customers hear it in their language;
 * Rome's do not. The letter after it states what the data says at the time it is written: as many
 * affected customers as the incident reached, and compensation "done" only once a run is applied.
 * Published, it reaches each affected customer once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BACKENDS } from "../support/backends.ts";
import { expectCustomerWords, importCsv, ok, onePerRecipient, startWorld, type World } from "./world.ts";

const INTERNAL = ["end-rental-milan", "end-rental-rome", "milan-metro", "INC-MILAN", "upd_", "msg_"];

describe.each(BACKENDS)("Milan city outage on %s", (backend) => {
  let w: World;
  const startedAt = new Date(Date.now() - 3 * 3_600_000);
  beforeAll(async () => {
    w = await startWorld(backend);
    const { t } = w;
    await ok(t, "POST", "/api/v1/components", { id: "rentals", name: "Rentals" });
    await ok(t, "POST", "/api/v1/components", {
      id: "end-rental",
      name: "Ending a rental",
      parent_id: "rentals",
    });
    await ok(t, "POST", "/api/v1/components", {
      id: "end-rental-milan",
      name: "Milan",
      parent_id: "end-rental",
      region: "milan-metro",
    });
    await ok(t, "POST", "/api/v1/components", {
      id: "end-rental-rome",
      name: "Rome",
      parent_id: "end-rental",
      region: "rome-metro",
    });
    await ok(t, "PUT", "/api/v1/notification-settings", {
      notify_affected_customers: true,
      public_url: "https://status.fleet.test",
    });
    await importCsv(
      t,
      "customers",
      [
        "id,name,home_region,locale,email",
        "M1,Chiara Ferri,milan-metro,it,chiara@example.it",
        "M2,Tom Baker,milan-metro,en,tom@example.com",
        "M3,Léa Martin,milan-metro,fr,lea@example.fr",
        "R1,Sara Russo,rome-metro,it,sara@example.it",
      ].join("\n"),
    );
  }, 90_000);
  afterAll(async () => w?.close());

  it("tells Milan's customers once each, in their language, and nobody in Rome", async () => {
    await ok(w.t, "POST", "/api/v1/incidents", {
      id: "INC-MILAN",
      title: "Rentals cannot be ended in Milan",
      body: "Leave the car parked; you will not pay for the extra time.",
      translations: {
        it: {
          title: "Impossibile terminare il noleggio a Milano",
          body: "Lascia l'auto parcheggiata; il tempo in più non si paga.",
        },
      },
      started_at: startedAt.toISOString(),
      components: [{ id: "end-rental-milan", status: "major_outage" }],
    });
    const got = onePerRecipient(await w.settle());
    expect([...got.keys()].filter((k) => k.startsWith("email:")).sort()).toEqual([
      "email:chiara@example.it",
      "email:lea@example.fr",
      "email:tom@example.com",
    ]);
    expect(got.get("email:chiara@example.it")!.subject).toContain(
      "Impossibile terminare il noleggio a Milano",
    );
    expect(got.get("email:chiara@example.it")!.lang).toBe("it");
    // No French text was written: Léa reads the framing in French around the original words.
    expect(got.get("email:lea@example.fr")!.lang).toBe("fr");
    for (const m of got.values()) expectCustomerWords(m, INTERNAL);
  });

  it("drafts a letter that counts whom the incident reached and promises no money not yet paid", async () => {
    await ok(w.t, "POST", "/api/v1/incidents/INC-MILAN/resolve", { body: "Rentals end normally again." });
    await w.settle();
    const draft = await ok(w.t, "POST", "/api/v1/incidents/INC-MILAN/postmortem");
    const text = JSON.stringify(draft);
    expect(text).toMatch(/3 customers were affected/);
    expect(text).not.toMatch(/already done/i);
    await ok(w.t, "PATCH", "/api/v1/incidents/INC-MILAN/postmortem", {
      sections: { what_we_change: "Ending a rental no longer depends on one server." },
    });
    const before = w.mark();
    await ok(w.t, "POST", "/api/v1/incidents/INC-MILAN/postmortem/publish");
    await ok(w.t, "POST", "/api/v1/incidents/INC-MILAN/postmortem/publish", undefined, [200, 201, 409]);
    await w.settle();
    const letters = onePerRecipient(w.since(before));
    expect([...letters.keys()].sort()).toEqual([
      "email:chiara@example.it",
      "email:lea@example.fr",
      "email:tom@example.com",
    ]);
    for (const m of letters.values()) expectCustomerWords(m, INTERNAL);
  });
});
