/** The console's words: every language has every key, parses as ICU, and uses the same placeholders. */
import { IntlMessageFormat } from "intl-messageformat";
import { describe, expect, it } from "vitest";
import { MESSAGES } from "../console/src/messages.ts";

const placeholders = (message: string) => [...message.matchAll(/\{(\w+)/g)].map((m) => m[1]).sort();

describe("console messages", () => {
  const en = MESSAGES.en as Record<string, string>;
  for (const [locale, messages] of Object.entries(MESSAGES) as [string, Record<string, string>][]) {
    it(`${locale}: every key, valid ICU, the same placeholders as English`, () => {
      expect(Object.keys(messages).sort()).toEqual(Object.keys(en).sort());
      for (const [key, message] of Object.entries(messages)) {
        expect(() => new IntlMessageFormat(message, locale), `${locale}.${key}`).not.toThrow();
        expect(placeholders(message), `${locale}.${key}`).toEqual(placeholders(en[key]!));
        expect(message.trim(), `${locale}.${key}`).not.toBe("");
      }
    });
  }
});
