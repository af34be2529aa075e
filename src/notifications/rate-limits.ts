/**
 * Per-provider rate limits that hold across every delivery process. Each provider has one
 * row saying until when its capacity is booked (the generic cell rate algorithm, a token
 * bucket kept as a single time): booking k messages moves that time k/rate seconds forward,
 * and they may go once it is less than a second ahead of now, so an idle provider takes a
 * second's worth at once and a busy one exactly its rate. Bookings are serialised by the
 * row, so processes never collide or lose capacity to rounding. A process books small
 * batches (a twentieth of a second's worth) so the database sees a few statements per
 * second per provider, not one per message.
 */
import type { Database } from "../storage/database.ts";

/** `AMENDS_RATE_LIMITS="twilio=50,smtp=200"`: messages per second per provider. */
export function parseRateLimits(text: string | undefined): Record<string, number> {
  const limits: Record<string, number> = {};
  for (const part of (text ?? "").split(",").map((p) => p.trim())) {
    if (!part) continue;
    const m = /^([\w.-]+)=(\d+(?:\.\d+)?)$/.exec(part);
    if (!m || Number(m[2]) <= 0)
      throw new Error(`AMENDS_RATE_LIMITS: "${part}" is not provider=messages-per-second (e.g. twilio=50)`);
    limits[m[1]!] = Number(m[2]);
  }
  return limits;
}

/** Books $3 messages at $2 per second; returns how long to wait before sending them. */
const BOOK = `
  insert into provider_rate_limits as p (provider, booked_until)
  values ($1, clock_timestamp() + make_interval(secs => $3::float8 / $2::float8))
  on conflict (provider) do update
    set booked_until = greatest(p.booked_until, clock_timestamp()) + make_interval(secs => $3::float8 / $2::float8)
  returning greatest(0, extract(epoch from p.booked_until - clock_timestamp()) * 1000 - 1000)::int as wait_ms`;

/** A throttle for `ChannelSender`s: resolves when `provider` may take one more message. */
export function sharedThrottle(database: Database, limits: Record<string, number>) {
  const ready = new Map<string, number>();
  // One booking at a time per provider in this process; its senders wait on it together.
  const booking = new Map<string, Promise<void>>();

  const book = async (provider: string, rate: number) => {
    const batch = Math.max(1, Math.floor(rate / 20));
    const [row] = await database.query<{ wait_ms: number }>(BOOK, [provider, rate, batch]);
    if (row && row.wait_ms > 0) await new Promise((r) => setTimeout(r, row.wait_ms));
    ready.set(provider, (ready.get(provider) ?? 0) + batch);
  };

  return async (provider: string): Promise<void> => {
    const rate = limits[provider];
    if (!rate) return;
    for (;;) {
      const left = ready.get(provider) ?? 0;
      if (left > 0) {
        ready.set(provider, left - 1);
        return;
      }
      let pending = booking.get(provider);
      if (!pending) {
        pending = book(provider, rate).finally(() => booking.delete(provider));
        booking.set(provider, pending);
      }
      await pending;
    }
  };
}
