/**
 * The public page's own words in each shipped language, as ICU MessageFormat strings
 * (intl-messageformat). Incident text is the operator's, translated by the operator.
 */
import { IntlMessageFormat } from "intl-messageformat";

export const LOCALES = ["en", "it", "de", "fr", "es"] as const;
export type Locale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: Locale = "en";

const en = {
  pageTitle: "{name} status",
  currentIncidents: "Current incidents",
  components: "Components",
  pastIncidents: "Past incidents (last {days} days)",
  noPastIncidents: "No incidents in the last {days} days.",
  noComponents: "No components yet.",
  expectedFix: "Expected fix: {time}",
  nextUpdateBy: "Next update by {time}",
  overdue: "The next update was promised by {time} and is overdue.",
  started: "started {time}",
  resolvedAt: "resolved {time}",
  affects: "affects {list}",
  updated: "Updated {time}",
  stale:
    "Live status could not be refreshed. This is the status as of {time} ({minutes, plural, one {# minute} other {# minutes}} ago).",
  backToStatus: "Current status",
  noSuchPage: "There is no page here.",
  noSuchIncident: "No such incident.",
  language: "Language",
  uptimeSummary: "{uptime}% uptime, {sla}% outside maintenance",
  daysAgo: "{days} days ago",
  today: "Today",
  "status.operational": "Operational",
  "status.under_maintenance": "Under maintenance",
  "status.degraded_performance": "Degraded performance",
  "status.partial_outage": "Partial outage",
  "status.major_outage": "Major outage",
  "incident.investigating": "Investigating",
  "incident.identified": "Identified",
  "incident.monitoring": "Monitoring",
  "incident.resolved": "Resolved",
  "indicator.none": "All Systems Operational",
  "indicator.maintenance": "Service Under Maintenance",
  "indicator.minor": "Minor Service Outage",
  "indicator.major": "Partial System Outage",
  "indicator.critical": "Major Service Outage",
};
export type MessageKey = keyof typeof en;

const CATALOGS: Record<Locale, Record<MessageKey, string>> = {
  en,
  it: {
    pageTitle: "Stato di {name}",
    currentIncidents: "Disservizi in corso",
    components: "Componenti",
    pastIncidents: "Disservizi passati (ultimi {days} giorni)",
    noPastIncidents: "Nessun disservizio negli ultimi {days} giorni.",
    noComponents: "Ancora nessun componente.",
    expectedFix: "Risoluzione prevista: {time}",
    nextUpdateBy: "Prossimo aggiornamento entro {time}",
    overdue: "Il prossimo aggiornamento era promesso entro {time} ed è in ritardo.",
    started: "iniziato {time}",
    resolvedAt: "risolto {time}",
    affects: "riguarda {list}",
    updated: "Aggiornato {time}",
    stale:
      "Non è stato possibile aggiornare lo stato. Questo è lo stato delle {time} ({minutes, plural, one {# minuto} other {# minuti}} fa).",
    backToStatus: "Stato attuale",
    noSuchPage: "Questa pagina non esiste.",
    noSuchIncident: "Disservizio non trovato.",
    language: "Lingua",
    uptimeSummary: "{uptime}% di disponibilità, {sla}% escluse le manutenzioni",
    daysAgo: "{days} giorni fa",
    today: "Oggi",
    "status.operational": "Operativo",
    "status.under_maintenance": "In manutenzione",
    "status.degraded_performance": "Prestazioni ridotte",
    "status.partial_outage": "Interruzione parziale",
    "status.major_outage": "Interruzione grave",
    "incident.investigating": "In analisi",
    "incident.identified": "Causa individuata",
    "incident.monitoring": "In osservazione",
    "incident.resolved": "Risolto",
    "indicator.none": "Tutti i sistemi funzionano",
    "indicator.maintenance": "Servizio in manutenzione",
    "indicator.minor": "Disservizio lieve",
    "indicator.major": "Disservizio parziale",
    "indicator.critical": "Disservizio grave",
  },
  de: {
    pageTitle: "Status von {name}",
    currentIncidents: "Aktuelle Störungen",
    components: "Komponenten",
    pastIncidents: "Frühere Störungen (letzte {days} Tage)",
    noPastIncidents: "Keine Störungen in den letzten {days} Tagen.",
    noComponents: "Noch keine Komponenten.",
    expectedFix: "Voraussichtlich behoben: {time}",
    nextUpdateBy: "Nächstes Update bis {time}",
    overdue: "Das nächste Update war bis {time} versprochen und ist überfällig.",
    started: "begonnen {time}",
    resolvedAt: "behoben {time}",
    affects: "betrifft {list}",
    updated: "Aktualisiert {time}",
    stale:
      "Der Status konnte nicht aktualisiert werden. Stand: {time} (vor {minutes, plural, one {# Minute} other {# Minuten}}).",
    backToStatus: "Aktueller Status",
    noSuchPage: "Diese Seite gibt es nicht.",
    noSuchIncident: "Störung nicht gefunden.",
    language: "Sprache",
    uptimeSummary: "{uptime}% Verfügbarkeit, {sla}% ohne Wartung",
    daysAgo: "vor {days} Tagen",
    today: "Heute",
    "status.operational": "Betriebsbereit",
    "status.under_maintenance": "In Wartung",
    "status.degraded_performance": "Eingeschränkte Leistung",
    "status.partial_outage": "Teilausfall",
    "status.major_outage": "Schwerer Ausfall",
    "incident.investigating": "Wird untersucht",
    "incident.identified": "Ursache erkannt",
    "incident.monitoring": "Wird beobachtet",
    "incident.resolved": "Behoben",
    "indicator.none": "Alle Systeme betriebsbereit",
    "indicator.maintenance": "Dienst in Wartung",
    "indicator.minor": "Leichte Störung",
    "indicator.major": "Teilweiser Ausfall",
    "indicator.critical": "Schwerer Ausfall",
  },
  fr: {
    pageTitle: "État de {name}",
    currentIncidents: "Incidents en cours",
    components: "Composants",
    pastIncidents: "Incidents passés ({days} derniers jours)",
    noPastIncidents: "Aucun incident ces {days} derniers jours.",
    noComponents: "Aucun composant pour l'instant.",
    expectedFix: "Rétablissement prévu : {time}",
    nextUpdateBy: "Prochaine mise à jour avant {time}",
    overdue: "La prochaine mise à jour était promise pour {time} et se fait attendre.",
    started: "commencé {time}",
    resolvedAt: "résolu {time}",
    affects: "concerne {list}",
    updated: "Mis à jour {time}",
    stale:
      "L'état n'a pas pu être actualisé. Voici l'état à {time} (il y a {minutes, plural, one {# minute} other {# minutes}}).",
    backToStatus: "État actuel",
    noSuchPage: "Cette page n'existe pas.",
    noSuchIncident: "Incident introuvable.",
    language: "Langue",
    uptimeSummary: "{uptime} % de disponibilité, {sla} % hors maintenance",
    daysAgo: "il y a {days} jours",
    today: "Aujourd'hui",
    "status.operational": "Opérationnel",
    "status.under_maintenance": "En maintenance",
    "status.degraded_performance": "Performances dégradées",
    "status.partial_outage": "Panne partielle",
    "status.major_outage": "Panne majeure",
    "incident.investigating": "En cours d'analyse",
    "incident.identified": "Cause identifiée",
    "incident.monitoring": "Sous surveillance",
    "incident.resolved": "Résolu",
    "indicator.none": "Tous les systèmes sont opérationnels",
    "indicator.maintenance": "Service en maintenance",
    "indicator.minor": "Panne mineure",
    "indicator.major": "Panne partielle",
    "indicator.critical": "Panne majeure",
  },
  es: {
    pageTitle: "Estado de {name}",
    currentIncidents: "Incidencias en curso",
    components: "Componentes",
    pastIncidents: "Incidencias anteriores (últimos {days} días)",
    noPastIncidents: "Ninguna incidencia en los últimos {days} días.",
    noComponents: "Todavía no hay componentes.",
    expectedFix: "Solución prevista: {time}",
    nextUpdateBy: "Próxima actualización antes de {time}",
    overdue: "La próxima actualización estaba prometida para {time} y se ha retrasado.",
    started: "comenzó {time}",
    resolvedAt: "resuelta {time}",
    affects: "afecta a {list}",
    updated: "Actualizado {time}",
    stale:
      "No se pudo actualizar el estado. Este es el estado a las {time} (hace {minutes, plural, one {# minuto} other {# minutos}}).",
    backToStatus: "Estado actual",
    noSuchPage: "Esta página no existe.",
    noSuchIncident: "Incidencia no encontrada.",
    language: "Idioma",
    uptimeSummary: "{uptime} % de disponibilidad, {sla} % sin contar mantenimientos",
    daysAgo: "hace {days} días",
    today: "Hoy",
    "status.operational": "Operativo",
    "status.under_maintenance": "En mantenimiento",
    "status.degraded_performance": "Rendimiento degradado",
    "status.partial_outage": "Interrupción parcial",
    "status.major_outage": "Interrupción grave",
    "incident.investigating": "Investigando",
    "incident.identified": "Causa identificada",
    "incident.monitoring": "En observación",
    "incident.resolved": "Resuelta",
    "indicator.none": "Todos los sistemas operativos",
    "indicator.maintenance": "Servicio en mantenimiento",
    "indicator.minor": "Interrupción leve",
    "indicator.major": "Interrupción parcial",
    "indicator.critical": "Interrupción grave",
  },
};

const compiled = new Map<string, IntlMessageFormat>();

/** The message in `locale`, formatted; English when a language lacks it. */
export function t(locale: Locale, key: MessageKey, values?: Record<string, string | number>): string {
  const id = `${locale}:${key}`;
  let f = compiled.get(id);
  if (!f) {
    f = new IntlMessageFormat(CATALOGS[locale][key] ?? en[key], locale);
    compiled.set(id, f);
  }
  return String(f.format(values));
}

export const isLocale = (s: string | undefined): s is Locale => LOCALES.includes(s as Locale);

export const LANGUAGE_NAMES: Record<Locale, string> = {
  en: "English",
  it: "Italiano",
  de: "Deutsch",
  fr: "Français",
  es: "Español",
};

/** Text in the reader's language when the operator wrote one, else the original. */
export function localized(
  original: string,
  translations: Readonly<Record<string, string>> | undefined,
  locale: Locale,
): string {
  return translations?.[locale] ?? original;
}
