/**
 * Money: integers in minor units beside an ISO 4217 code. Never floats.
 *
 * Computations that divide (pro-rata, percentages) keep an exact fraction `num/den` in bigint
 * and round once, at the end of a line, half-up (ties away from zero, as EU Reg. 1103/97) or
 * half-even. Totals are sums of rounded lines.
 */
import { invalidField } from "./errors.ts";

export type Rounding = "half_up" | "half_even";

export interface Money {
  amount: number;
  currency: string;
}

/** An exact fraction; `den` is always positive. */
export interface Fraction {
  num: bigint;
  den: bigint;
}

export const fraction = (num: bigint | number, den: bigint | number = 1n): Fraction => {
  let n = BigInt(num);
  let d = BigInt(den);
  if (d === 0n) throw new Error("division by zero");
  if (d < 0n) {
    n = -n;
    d = -d;
  }
  return { num: n, den: d };
};

export const mul = (a: Fraction, b: Fraction): Fraction => fraction(a.num * b.num, a.den * b.den);
export const add = (a: Fraction, b: Fraction): Fraction =>
  fraction(a.num * b.den + b.num * a.den, a.den * b.den);

/** Rounds a fraction to an integer, once. */
export function round(f: Fraction, mode: Rounding): number {
  const { num, den } = f;
  const negative = num < 0n;
  const abs = negative ? -num : num;
  let q = abs / den;
  const twice = (abs % den) * 2n;
  if (twice > den || (twice === den && (mode === "half_up" || q % 2n === 1n))) q += 1n;
  const result = Number(negative ? -q : q);
  if (!Number.isSafeInteger(result)) throw new Error(`amount ${result} is beyond 2^53`);
  return result;
}

/**
 * Parses a decimal string such as "99.9" or "25" into an exact fraction. Percentages in
 * policies are strings so that no float ever touches them.
 */
export function parseDecimal(value: string, field = "value"): Fraction {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(value.trim());
  if (!m) throw invalidField(field, `"${value}" is not a decimal number such as "12.5"`);
  const decimals = m[3] ?? "";
  const num = BigInt(`${m[2]}${decimals}`) * (m[1] ? -1n : 1n);
  return fraction(num, 10n ** BigInt(decimals.length));
}

/** Compares two fractions: negative, zero or positive like a sort comparator. */
export const compare = (a: Fraction, b: Fraction): number => {
  const l = a.num * b.den;
  const r = b.num * a.den;
  return l < r ? -1 : l > r ? 1 : 0;
};

/**
 * Splits `total` over `weights` in proportion, by largest remainder, so the parts are
 * integers that add up to `total` exactly (used to spread a cap over several lines).
 */
export function allocate(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((s, w) => s + w, 0);
  if (sum === 0) return weights.map(() => 0);
  const exact = weights.map((w) => fraction(BigInt(total) * BigInt(w), BigInt(sum)));
  const floors = exact.map((f) => f.num / f.den);
  let left = BigInt(total) - floors.reduce((s, f) => s + f, 0n);
  const order = exact
    .map((f, i) => ({ i, rem: fraction(f.num % f.den, f.den) }))
    .sort((a, b) => compare(b.rem, a.rem) || a.i - b.i);
  const parts = [...floors];
  for (const { i } of order) {
    if (left <= 0n) break;
    parts[i] = parts[i]! + 1n;
    left -= 1n;
  }
  return parts.map(Number);
}

/** ISO 4217 minor-unit exponents that differ from 2. */
const EXPONENTS: Record<string, number> = {
  BIF: 0,
  CLP: 0,
  DJF: 0,
  GNF: 0,
  ISK: 0,
  JPY: 0,
  KMF: 0,
  KRW: 0,
  PYG: 0,
  RWF: 0,
  UGX: 0,
  UYI: 0,
  VND: 0,
  VUV: 0,
  XAF: 0,
  XOF: 0,
  XPF: 0,
  BHD: 3,
  IQD: 3,
  JOD: 3,
  KWD: 3,
  LYD: 3,
  OMR: 3,
  TND: 3,
  CLF: 4,
  UYW: 4,
};

export const CURRENCY_PATTERN = /^[A-Z]{3}$/;
export const currencyExponent = (currency: string) => EXPONENTS[currency] ?? 2;

/** "130.50 EUR" for people; machines get minor units. */
export function formatMoney(m: Money): string {
  const exp = currencyExponent(m.currency);
  const sign = m.amount < 0 ? "-" : "";
  const abs = Math.abs(m.amount)
    .toString()
    .padStart(exp + 1, "0");
  const whole = exp ? abs.slice(0, -exp) : abs;
  return `${sign}${whole}${exp ? `.${abs.slice(-exp)}` : ""} ${m.currency}`;
}
