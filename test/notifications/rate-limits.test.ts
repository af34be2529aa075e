/**
 * A provider's rate limit holds across delivery processes: two throttles on one database
 * (as two `amends worker` processes would be) together keep to it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRateLimits, sharedThrottle } from "../../src/notifications/rate-limits.ts";
import type { Database } from "../../src/storage/database.ts";
import { BACKENDS, freshDatabase } from "../support/backends.ts";

describe.each(BACKENDS)("provider rate limits on %s", (backend) => {
  let database: Database;
  beforeAll(async () => {
    database = await freshDatabase(backend);
  });
  afterAll(() => database?.close());

  it("keeps two processes together to the provider's rate", async () => {
    const rate = 40;
    const processes = [
      sharedThrottle(database, { twilio: rate }),
      sharedThrottle(database, { twilio: rate }),
    ];
    const sentAt: number[] = [];
    const start = Date.now();
    // Six senders per process, 120 messages in all.
    await Promise.all(
      processes.flatMap((throttle) =>
        Array.from({ length: 6 }, async () => {
          for (let i = 0; i < 10; i++) {
            await throttle("twilio");
            sentAt.push(Date.now());
          }
        }),
      ),
    );
    const elapsed = Date.now() - start;
    // A full bucket (one second's worth) goes at once; the other 80 take two seconds.
    expect(elapsed).toBeGreaterThanOrEqual(1_900);
    expect(elapsed).toBeLessThan(4_000); // and no capacity is lost between the two
    sentAt.sort((a, b) => a - b);
    for (let i = 0; i < sentAt.length; i++) {
      const inOneSecond = sentAt.filter((t) => t >= sentAt[i]! && t < sentAt[i]! + 1_000).length;
      expect(inOneSecond).toBeLessThanOrEqual(2 * rate + 2);
    }
    // Other providers are not held back.
    const t0 = Date.now();
    for (let i = 0; i < 100; i++) await processes[0]!("smtp");
    expect(Date.now() - t0).toBeLessThan(200);
  });
});

describe("AMENDS_RATE_LIMITS", () => {
  it("reads provider=rate pairs and names a bad one", () => {
    expect(parseRateLimits("twilio=50, smtp=200.5")).toEqual({ twilio: 50, smtp: 200.5 });
    expect(parseRateLimits(undefined)).toEqual({});
    expect(() => parseRateLimits("twilio=fast")).toThrow(/"twilio=fast"/);
  });
});
