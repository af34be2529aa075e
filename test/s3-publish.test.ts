import { AwsClient } from "aws4fetch";
import { describe, expect, it } from "vitest";
import { startTestApp } from "./support/app.ts";
import { BACKENDS } from "./support/backends.ts";
import { S3Fake } from "./support/fakes/s3.ts";
import { until } from "./support/until.ts";

describe.each(BACKENDS)("publishing the page to an S3-compatible bucket (%s)", (backend) => {
  it("uploads the whole static page, signed with SigV4, and again what changed after each write", async () => {
    const credentials = { accessKeyId: "AKIAFLEET", secretAccessKey: "fleet-secret-key" };
    const s3 = await new S3Fake("status-copy", credentials, "eu-south-1").start();
    const t = await startTestApp(backend, {
      s3: { url: `${s3.url}/status-copy/fleet`, region: "eu-south-1", ...credentials },
    });
    try {
      await t.call("POST", "/api/v1/components", { id: "rentals", name: "Rentals" });
      await until("the first copy is uploaded", () => s3.objects.has("fleet/maintenance.ics"), 60_000);
      expect(s3.rejected).toBe(0);
      for (const key of [
        "fleet/index.html",
        "fleet/it/index.html",
        "fleet/api/v2/summary.json",
        "fleet/history.rss",
      ])
        expect(s3.objects.has(key), key).toBe(true);
      expect(s3.objects.get("fleet/index.html")!.contentType).toBe("text/html; charset=utf-8");
      expect(s3.objects.get("fleet/index.html")!.cacheControl).toContain("stale-if-error");
      await until("the copy shows the component", () =>
        s3.objects.get("fleet/api/v2/summary.json")!.body.toString().includes('"rentals"'),
      );

      // A write: the changed documents go up again, the unchanged ones do not.
      let seen = -1;
      await until("the uploads to settle", async () => {
        const settled = s3.puts === seen;
        seen = s3.puts;
        await new Promise((r) => setTimeout(r, 500));
        return settled;
      });
      const before = new Map(s3.putsByKey);
      const opened = await t.call("POST", "/api/v1/incidents", {
        id: "INC-1",
        title: "Rentals cannot be ended",
        body: "Leave the car parked.",
        components: [{ id: "rentals", status: "major_outage" }],
      });
      expect(opened.status).toBe(201);
      await until("the copy shows the incident", () =>
        s3.objects.get("fleet/api/v2/summary.json")!.body.toString().includes("Rentals cannot be ended"),
      );
      await until("the incident's own page is uploaded", () =>
        s3.objects.has("fleet/de/incidents/INC-1/index.html"),
      );
      // Documents that tell the time change as it passes; the widget's script, for one, never does.
      const again = [...s3.putsByKey].filter(([key, n]) => n > (before.get(key) ?? n)).map(([key]) => key);
      expect(again).toContain("fleet/api/v2/summary.json");
      expect(again.length).toBeLessThan(s3.objects.size);
      expect(again).not.toContain("fleet/widget.js");
      expect(s3.rejected).toBe(0);
      // The fake does check signatures: a wrong secret is refused as S3 refuses it.
      const forged = await new AwsClient({
        ...credentials,
        secretAccessKey: "wrong",
        service: "s3",
        region: "eu-south-1",
      }).fetch(`${s3.url}/status-copy/fleet/index.html`, { method: "PUT", body: "defaced" });
      expect(forged.status).toBe(403);
      expect(await forged.text()).toContain("SignatureDoesNotMatch");
    } finally {
      await t.close();
      await s3.stop();
    }
  }, 120_000);
});
