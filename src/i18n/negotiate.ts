import Negotiator from "negotiator";
import { DEFAULT_LOCALE, isLocale, LOCALES, type Locale } from "./catalog.ts";

/** The language in the path (`/it/`) wins, then `?lang=`, then the browser's Accept-Language, then English. */
export function negotiateLocale(
  query: unknown,
  acceptLanguage: string | undefined,
  fromPath?: string,
): Locale {
  if (isLocale(fromPath)) return fromPath;
  const asked = typeof query === "object" && query !== null ? (query as { lang?: unknown }).lang : undefined;
  if (typeof asked === "string" && isLocale(asked)) return asked;
  const preferred = new Negotiator({ headers: { "accept-language": acceptLanguage ?? "" } }).language([
    ...LOCALES,
  ]);
  return isLocale(preferred) ? preferred : DEFAULT_LOCALE;
}
