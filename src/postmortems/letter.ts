/**
 * The letter after an incident, in the shape of car2go's 2014 one to its customers: what
 * happened; what we did; what happens now for you (the make-good, with the figures); what we
 * change so it does not happen again. (Its words ship in every language, so it lives beside
 * the store rather than in src/core.) Drafted here from the timeline and the figures, in every
 * shipped language; the operator edits it (the last section is theirs to write) and publishes.
 */
import { IntlMessageFormat } from "intl-messageformat";
import type { Incident } from "../core/incidents.ts";
import { formatAmount, formatMessageDay, intlLocale, listText } from "../core/wording.ts";

export const SECTIONS = ["what_happened", "what_we_did", "what_now", "what_we_change"] as const;
export type Section = (typeof SECTIONS)[number];
export type Sections = Record<Section, string>;

export interface LetterFigures {
  /**
   * customers the incident affected, per city (its region id and display name): those whose use
   * touched the failed components, those paid for it, and those its messages reached as affected
   */
  cities: { city: string; name?: string; customers: number }[];
  /** what the compensation run (if any) pays: money per currency, units per unit, customers */
  compensation: {
    runId: string;
    status: string;
    money: Record<string, number>;
    units: Record<string, number>;
    customers: number;
  } | null;
}

const WORDS = {
  en: {
    happened:
      "On {date}, from {start} to {end} ({hours} h), {title}. {customers, plural, one {# customer was} other {# customers were}} affected{cities}.",
    cities: ": {list}",
    did: "What we did, as we posted it:",
    paid: "We have made good on it without waiting for anyone to ask: {money} for {customers, plural, one {# customer} other {# customers}}. You do not need to claim anything; it is already done, and a message tells each of you what you receive.",
    reviewing:
      "We are working out what we owe each of you from our own records. You do not need to claim anything: you will hear from us.",
    preparing:
      "We are preparing what we owe from our own records: {money} for {customers, plural, one {# customer} other {# customers}}. You do not need to claim anything: once it is credited, a message tells each of you what you receive.",
    minutes: "{n, plural, one {# free minute} other {# free minutes}}",
  },
  it: {
    happened:
      "Il {date}, dalle {start} alle {end} ({hours} h), {title}. {customers, plural, one {# cliente è stato coinvolto} other {# clienti sono stati coinvolti}}{cities}.",
    cities: ": {list}",
    did: "Cosa abbiamo fatto, come lo abbiamo comunicato:",
    paid: "Abbiamo rimediato senza aspettare che qualcuno lo chiedesse: {money} per {customers, plural, one {# cliente} other {# clienti}}. Non devi chiedere nulla: è già fatto, e un messaggio dice a ciascuno cosa riceve.",
    reviewing:
      "Stiamo calcolando dai nostri dati quanto dobbiamo a ciascuno. Non devi chiedere nulla: ti scriveremo noi.",
    preparing:
      "Stiamo preparando dai nostri dati quanto dobbiamo: {money} per {customers, plural, one {# cliente} other {# clienti}}. Non devi chiedere nulla: quando sarà accreditato, un messaggio dirà a ciascuno cosa riceve.",
    minutes: "{n, plural, one {# minuto gratuito} other {# minuti gratuiti}}",
  },
  de: {
    happened:
      "Am {date} von {start} bis {end} ({hours} h): {title}. {customers, plural, one {# Kunde war} other {# Kunden waren}} betroffen{cities}.",
    cities: ": {list}",
    did: "Was wir getan haben, wie wir es mitgeteilt haben:",
    paid: "Wir haben es wiedergutgemacht, ohne dass jemand fragen musste: {money} für {customers, plural, one {# Kunden} other {# Kunden}}. Sie müssen nichts beantragen; es ist bereits erledigt, und jeder erhält eine Nachricht, was er bekommt.",
    reviewing:
      "Wir ermitteln aus unseren eigenen Daten, was wir jedem schulden. Sie müssen nichts beantragen: Sie hören von uns.",
    preparing:
      "Wir bereiten aus unseren eigenen Daten vor, was wir schulden: {money} für {customers, plural, one {# Kunden} other {# Kunden}}. Sie müssen nichts beantragen: Sobald es gutgeschrieben ist, erhält jeder eine Nachricht, was er bekommt.",
    minutes: "{n, plural, one {# Freiminute} other {# Freiminuten}}",
  },
  fr: {
    happened:
      "Le {date}, de {start} à {end} ({hours} h) : {title}. {customers, plural, one {# client a été touché} other {# clients ont été touchés}}{cities}.",
    cities: " : {list}",
    did: "Ce que nous avons fait, tel que nous l'avons publié :",
    paid: "Nous avons réparé sans attendre qu'on nous le demande : {money} pour {customers, plural, one {# client} other {# clients}}. Vous n'avez rien à réclamer : c'est déjà fait, et un message indique à chacun ce qu'il reçoit.",
    reviewing:
      "Nous calculons à partir de nos propres données ce que nous devons à chacun. Vous n'avez rien à réclamer : nous vous écrirons.",
    preparing:
      "Nous préparons à partir de nos propres données ce que nous devons : {money} pour {customers, plural, one {# client} other {# clients}}. Vous n'avez rien à réclamer : une fois crédité, un message indiquera à chacun ce qu'il reçoit.",
    minutes: "{n, plural, one {# minute gratuite} other {# minutes gratuites}}",
  },
  es: {
    happened:
      "El {date}, de {start} a {end} ({hours} h): {title}. {customers, plural, one {# cliente se vio afectado} other {# clientes se vieron afectados}}{cities}.",
    cities: ": {list}",
    did: "Lo que hicimos, tal como lo publicamos:",
    paid: "Lo hemos compensado sin esperar a que nadie lo pidiera: {money} para {customers, plural, one {# cliente} other {# clientes}}. No tienes que reclamar nada: ya está hecho, y un mensaje dice a cada uno lo que recibe.",
    reviewing:
      "Estamos calculando con nuestros propios datos lo que debemos a cada uno. No tienes que reclamar nada: te escribiremos.",
    preparing:
      "Estamos preparando con nuestros propios datos lo que debemos: {money} para {customers, plural, one {# cliente} other {# clientes}}. No tienes que reclamar nada: cuando se abone, un mensaje dirá a cada uno lo que recibe.",
    minutes: "{n, plural, one {# minuto gratis} other {# minutos gratis}}",
  },
} as const;
export const LETTER_LOCALES = Object.keys(WORDS) as (keyof typeof WORDS)[];
type LetterLocale = keyof typeof WORDS;

const fmt = (
  locale: LetterLocale,
  key: keyof (typeof WORDS)["en"],
  values: Record<string, string | number>,
) => String(new IntlMessageFormat(WORDS[locale][key], locale).format(values));

/** The draft in one language; the operator's own translations of the incident text are used when written. */
export function draftLetter(
  incident: Incident,
  figures: LetterFigures,
  locale: LetterLocale,
  timeZone: string,
): Sections {
  const end = incident.resolvedAt ?? incident.updatedAt;
  // Times name their zone: a reader elsewhere must not guess whose 11:00 it was.
  const clock = new Intl.DateTimeFormat(intlLocale(locale), {
    hour: "2-digit",
    minute: "2-digit",
    timeZoneName: "short",
    timeZone,
  });
  const title = incident.titleTranslations[locale] ?? incident.title;
  const customers = figures.cities.reduce((n, c) => n + c.customers, 0);
  const count = new Intl.NumberFormat(locale);
  const named = figures.cities.filter((c) => c.city !== "?");
  const list = listText(
    named.map((c) => `${c.name ?? c.city} (${count.format(c.customers)})`),
    locale,
  );
  const hours = new Intl.NumberFormat(locale, { maximumFractionDigits: 1 }).format(
    (end.getTime() - incident.startedAt.getTime()) / 3_600_000,
  );
  const what_happened = fmt(locale, "happened", {
    date: formatMessageDay(incident.startedAt, locale, timeZone),
    start: clock.format(incident.startedAt),
    end: clock.format(end),
    hours,
    title,
    customers,
    cities: named.length ? fmt(locale, "cities", { list }) : "",
  });
  const timeline = incident.updates.map(
    (u) =>
      `- ${formatMessageDay(u.createdAt, locale, timeZone)} ${clock.format(u.createdAt)}: ${u.bodyTranslations[locale] ?? u.body}`,
  );
  const what_we_did = [fmt(locale, "did", {}), ...timeline].join("\n");
  const comp = figures.compensation;
  const paid = comp
    ? [
        ...Object.entries(comp.money)
          .filter(([, amount]) => amount > 0)
          .map(([cur, amount]) => formatAmount(amount, cur, locale)),
        ...Object.entries(comp.units)
          .filter(([, n]) => n > 0)
          .map(([unit, n]) =>
            unit === "minutes" ? fmt(locale, "minutes", { n }) : `${count.format(n)} ${unit}`,
          ),
      ]
    : [];
  // "Done" only once the run is applied; until then it is being prepared (approval may be pending).
  const what_now =
    comp && paid.length
      ? fmt(locale, comp.status === "applied" ? "paid" : "preparing", {
          money: listText(paid, locale),
          customers: comp.customers,
        })
      : fmt(locale, "reviewing", {});
  // What changes is the operator's to say: the draft leaves it empty, and publishing needs it.
  return { what_happened, what_we_did, what_now, what_we_change: "" };
}
