import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { allocate, formatMoney, fraction, parseDecimal, round } from "../../src/core/money.ts";

describe("money", () => {
  it("rounds once, half-up or half-even", () => {
    expect(round(fraction(3625, 10), "half_up")).toBe(363);
    expect(round(fraction(3625, 10), "half_even")).toBe(362);
    expect(round(fraction(3635, 10), "half_even")).toBe(364);
    expect(round(fraction(-3625, 10), "half_up")).toBe(-363);
    expect(round(fraction(1015 * 15, 35), "half_up")).toBe(435);
  });

  it("parses decimals exactly", () => {
    expect(parseDecimal("99.9")).toEqual({ num: 999n, den: 10n });
    expect(() => parseDecimal("1e3", "pct")).toThrow(/pct/);
  });

  it("allocates by largest remainder, always summing to the total", () => {
    expect(allocate(100, [1, 1, 1])).toEqual([34, 33, 33]);
    fc.assert(
      fc.property(
        fc.nat(1_000_000),
        fc.array(fc.nat(10_000), { minLength: 1, maxLength: 20 }),
        (total, weights) => {
          const parts = allocate(total, weights);
          const sum = weights.reduce((a, b) => a + b, 0);
          expect(parts.reduce((a, b) => a + b, 0)).toBe(sum === 0 ? 0 : total);
          for (const p of parts) expect(Number.isInteger(p) && p >= 0).toBe(true);
        },
      ),
    );
  });

  it("formats by the currency's exponent", () => {
    expect(formatMoney({ amount: 8848, currency: "EUR" })).toBe("88.48 EUR");
    expect(formatMoney({ amount: 500, currency: "JPY" })).toBe("500 JPY");
    expect(formatMoney({ amount: 5, currency: "KWD" })).toBe("0.005 KWD");
  });
});
