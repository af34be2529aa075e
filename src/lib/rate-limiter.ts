/**
 * Fixed windows per key, counted in this process's memory: the report form and private-page
 * logins. Public subscriptions count in the database instead (src/access/rate-limit-store.ts).
 */
export class RateLimiter {
  private hits = new Map<string, { n: number; until: number }>();
  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}
  take(key: string, now: number): boolean {
    if (this.hits.size > 100_000) for (const [k, v] of this.hits) if (v.until <= now) this.hits.delete(k);
    const h = this.hits.get(key);
    if (!h || h.until <= now) {
      this.hits.set(key, { n: 1, until: now + this.windowMs });
      return true;
    }
    h.n++;
    return h.n <= this.limit;
  }
}
