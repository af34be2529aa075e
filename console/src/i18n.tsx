/**
 * The console's words in en, it, de, fr, es as ICU MessageFormat strings (intl-messageformat,
 * as the public page uses). The chosen language is remembered in this browser.
 */
import { IntlMessageFormat } from "intl-messageformat";
import { createContext, useContext } from "react";
import { type Key, MESSAGES } from "./messages.ts";

export const LOCALES = ["en", "it", "de", "fr", "es"] as const;
export type Locale = (typeof LOCALES)[number];
export const LOCALE_NAMES: Record<Locale, string> = {
  en: "English",
  it: "Italiano",
  de: "Deutsch",
  fr: "Français",
  es: "Español",
};

const isLocale = (s: string | null | undefined): s is Locale => LOCALES.includes(s as Locale);

export function initialLocale(userLocale?: string): Locale {
  const saved = localStorage.getItem("amends.locale");
  if (isLocale(saved)) return saved;
  if (isLocale(userLocale)) return userLocale;
  for (const l of navigator.languages ?? []) {
    const base = l.slice(0, 2).toLowerCase();
    if (isLocale(base)) return base;
  }
  return "en";
}

export const rememberLocale = (l: Locale) => localStorage.setItem("amends.locale", l);

const cache = new Map<string, IntlMessageFormat>();

export type Translate = (key: Key | `status.${string}`, values?: Record<string, string | number>) => string;

export function translator(locale: Locale): Translate {
  return (key, values) => {
    const id = `${locale}:${key}`;
    let f = cache.get(id);
    if (!f) {
      const source =
        (MESSAGES[locale] as Record<string, string>)[key] ?? (MESSAGES.en as Record<string, string>)[key];
      if (source === undefined) return key;
      f = new IntlMessageFormat(source, locale);
      cache.set(id, f);
    }
    return String(f.format(values));
  };
}

export interface I18n {
  locale: Locale;
  t: Translate;
  /** Date and time in the reader's language, in the browser's time zone. */
  time: (iso: string | null | undefined) => string;
  money: (amount: number, currency: string) => string;
}

export function makeI18n(locale: Locale): I18n {
  const dt = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" });
  return {
    locale,
    t: translator(locale),
    time: (iso) => (iso ? dt.format(new Date(iso)) : "—"),
    money: (amount, currency) => {
      // Minor units to a display amount: the currency's own number of decimals.
      const digits = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions()
        .maximumFractionDigits;
      return new Intl.NumberFormat(locale, { style: "currency", currency }).format(
        amount / 10 ** (digits ?? 2),
      );
    },
  };
}

export const I18nContext = createContext<I18n>(makeI18n("en"));
export const useI18n = () => useContext(I18nContext);
