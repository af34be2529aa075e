/**
 * Messages per event and locale, as ICU MessageFormat (intl-messageformat). The operator's own
 * words (incident title and update) come in the recipient's language when written; otherwise
 * in the original. Our words ship in en, it, de, fr, es; any other locale falls back to the
 * workspace's fallback locale, then English.
 */
import { IntlMessageFormat } from "intl-messageformat";
import type { Money } from "../core/money.ts";
import { pickLocale } from "../core/notifications.ts";
import { formatAmount, formatMessageDay, formatMessageTime, listText, moneyTotals } from "../core/wording.ts";
import { linkify } from "../lib/html.ts";

const en = {
  "incident.opened": "{company}: {title}",
  /** the incident is news to a customer who got stuck after its latest update */
  "incident.affected": "{company}: {title}",
  "incident.updated": "{company} update: {title}",
  "incident.resolved": "{company} resolved: {title}",
  "incident.update_overdue": "Overdue update: {title}",
  "maintenance.scheduled": "{company} maintenance planned: {title}",
  "maintenance.reminder": "{company} maintenance starts soon: {title}",
  "maintenance.started": "{company} maintenance started: {title}",
  "maintenance.completed": "{company} maintenance completed: {title}",
  "maintenance.cancelled": "{company} maintenance cancelled: {title}",
  "maintenance.overran": "{company} maintenance is running late: {title}",
  "compensation.granted": "{company}: what we owe you for {title}",
  "report.received": "{company}: we have your report",
  "reports.threshold": "{company}: customers report problems with {title}",
  "postmortem.published": "{company}: what happened with {title}, and what we are doing about it",
  "notifications.confirmation_needed": "SMS waiting for your go-ahead: {title}",
  confirmationNeeded:
    "SMS to {messages, plural, one {# recipient} other {# recipients}} ({segments, plural, one {# segment} other {# segments}}, {cost}) wait for cost confirmation; the free channels have gone. Confirm with: amends notifications confirm {id}",
  reportLinked: "We know about this problem: {title}. We are working on it.",
  reportPassed: "No incident is open on it yet: we have passed your report to our team.",
  reportNoClaim:
    "You do not need to claim anything: if you are owed compensation for it, you will get it without asking.",
  reportsCount:
    "{count, plural, one {# report} other {# reports}} in the last {minutes} minutes, and no incident is open on it.",
  digest: "{company}: {count, plural, one {# update} other {# updates}}",
  confirm: "Confirm your {company} status alerts",
  resolvedLine: "Resolved: {time}.",
  eta: "Expected fix: {time}.",
  nextUpdate: "Next update by {time}.",
  window: "From {start} to {end}.",
  overdue: "The update promised by {time} is overdue. Post one now.",
  details: "Details: {url}",
  unsubscribe: "Stop these messages: {url}",
  confirmLink: "Confirm that you want {company} status alerts: {url}",
  confirmCode: "Your {company} confirmation code is {code}.",
  compensationIntro: "We are sorry for the outage “{title}” ({start} to {end}).",
  compensationGot: "You receive {list}. You do not need to ask for it: it is done.",
  compensationNothing: "Nothing was due to you for it. If you think that is wrong, reply to this message.",
  minutes: "{n, plural, one {# free minute} other {# free minutes}}",
  // ---- words (issue 17): credits with their terms, and the texts Amends writes on incidents itself ----
  refund: "a refund of {amount}",
  moneyCredit: "{amount} credit",
  creditTerms:
    "{what}: {city, select, none {usable} other {to use in {city}}} from {from}{until, select, none {} other {; valid for {days, plural, one {# day} other {# days}}, until {until}}}.",
  "auto.problemTitle": "Problems with {components}",
  "auto.problemTitleAny": "Service problems",
  "auto.problemBody":
    "We have detected a problem with {components} and are investigating. We will post updates here.",
  "auto.problemBodyAny": "We have detected a problem and are investigating. We will post updates here.",
  "auto.recoveredBody": "{components} is working normally again. We are sorry for the inconvenience.",
  "auto.recoveredBodyAny": "Everything is working normally again. We are sorry for the inconvenience.",
  "auto.overrunTitle": "Maintenance running late: {title}",
  "auto.overrunBody":
    "The maintenance “{title}”, planned until {end}, has not finished yet. We are treating it as an outage and will post updates here.",
  "maintenance.scheduledText": "Planned maintenance from {start} to {end}.",
  "maintenance.reminderText": "Planned maintenance starts soon: from {start} to {end}.",
  "maintenance.startedText": "The planned maintenance has started. It should end by {end}.",
  "maintenance.completedText": "The planned maintenance is complete. Everything is working normally again.",
  "maintenance.cancelledText":
    "The planned maintenance from {start} to {end} is cancelled; nothing changes for you.",
  "maintenance.overranText":
    "The maintenance planned until {end} is running late. We are treating it as an outage and will post updates.",
};
type Key = keyof typeof en;

const it: Record<Key, string> = {
  "incident.opened": "{company}: {title}",
  "incident.affected": "{company}: {title}",
  "incident.updated": "Aggiornamento {company}: {title}",
  "incident.resolved": "{company} risolto: {title}",
  "incident.update_overdue": "Aggiornamento in ritardo: {title}",
  "maintenance.scheduled": "{company} manutenzione programmata: {title}",
  "maintenance.reminder": "{company} manutenzione a breve: {title}",
  "maintenance.started": "{company} manutenzione iniziata: {title}",
  "maintenance.completed": "{company} manutenzione completata: {title}",
  "maintenance.cancelled": "{company} manutenzione annullata: {title}",
  "maintenance.overran": "{company} la manutenzione è in ritardo: {title}",
  "compensation.granted": "{company}: quanto ti spetta per {title}",
  "report.received": "{company}: abbiamo ricevuto la tua segnalazione",
  "reports.threshold": "{company}: i clienti segnalano problemi con {title}",
  "postmortem.published": "{company}: cosa è successo con {title} e cosa facciamo",
  "notifications.confirmation_needed": "SMS in attesa del tuo via libera: {title}",
  confirmationNeeded:
    "Gli SMS a {messages, plural, one {# destinatario} other {# destinatari}} ({segments, plural, one {# segmento} other {# segmenti}}, {cost}) attendono la conferma del costo; i canali gratuiti sono partiti. Conferma con: amends notifications confirm {id}",
  reportLinked: "Conosciamo questo problema: {title}. Ci stiamo lavorando.",
  reportPassed: "Non c'è ancora un disservizio aperto: abbiamo passato la tua segnalazione al nostro team.",
  reportNoClaim: "Non devi chiedere nulla: se ti spetta un rimborso, lo riceverai senza doverlo chiedere.",
  reportsCount:
    "{count, plural, one {# segnalazione} other {# segnalazioni}} negli ultimi {minutes} minuti, e nessun disservizio aperto.",
  digest: "{company}: {count, plural, one {# aggiornamento} other {# aggiornamenti}}",
  confirm: "Conferma gli avvisi di stato di {company}",
  resolvedLine: "Risolto: {time}.",
  eta: "Risoluzione prevista: {time}.",
  nextUpdate: "Prossimo aggiornamento entro {time}.",
  window: "Dal {start} al {end}.",
  overdue: "L'aggiornamento promesso entro {time} è in ritardo. Pubblicane uno ora.",
  details: "Dettagli: {url}",
  unsubscribe: "Non ricevere più questi messaggi: {url}",
  confirmLink: "Conferma che vuoi ricevere gli avvisi di stato di {company}: {url}",
  confirmCode: "Il tuo codice di conferma {company} è {code}.",
  compensationIntro: "Ci scusiamo per il disservizio “{title}” ({start} – {end}).",
  compensationGot: "Ricevi {list}. Non devi chiedere nulla: è già fatto.",
  compensationNothing:
    "Questa volta non ti spetta nulla. Se pensi sia un errore, rispondi a questo messaggio.",
  minutes: "{n, plural, one {# minuto gratuito} other {# minuti gratuiti}}",
  // ---- words (issue 17) ----
  refund: "un rimborso di {amount}",
  moneyCredit: "un credito di {amount}",
  creditTerms:
    "{what}: {city, select, none {da usare} other {da usare a {city}}} a partire dal {from}{until, select, none {} other {; validità {days, plural, one {# giorno} other {# giorni}}, fino al {until}}}.",
  "auto.problemTitle": "Problemi con {components}",
  "auto.problemTitleAny": "Problemi al servizio",
  "auto.problemBody":
    "Abbiamo rilevato un problema con {components} e lo stiamo analizzando. Pubblicheremo gli aggiornamenti qui.",
  "auto.problemBodyAny":
    "Abbiamo rilevato un problema e lo stiamo analizzando. Pubblicheremo gli aggiornamenti qui.",
  "auto.recoveredBody": "{components} funziona di nuovo normalmente. Ci scusiamo per il disagio.",
  "auto.recoveredBodyAny": "Tutto funziona di nuovo normalmente. Ci scusiamo per il disagio.",
  "auto.overrunTitle": "Manutenzione in ritardo: {title}",
  "auto.overrunBody":
    "La manutenzione “{title}”, prevista fino al {end}, non è ancora terminata. La trattiamo come un disservizio e pubblicheremo gli aggiornamenti qui.",
  "maintenance.scheduledText": "Manutenzione programmata dal {start} al {end}.",
  "maintenance.reminderText": "La manutenzione programmata inizia a breve: dal {start} al {end}.",
  "maintenance.startedText": "La manutenzione programmata è iniziata. Dovrebbe terminare entro il {end}.",
  "maintenance.completedText":
    "La manutenzione programmata è terminata. Tutto funziona di nuovo normalmente.",
  "maintenance.cancelledText":
    "La manutenzione programmata dal {start} al {end} è annullata; per te non cambia nulla.",
  "maintenance.overranText":
    "La manutenzione prevista fino al {end} è in ritardo. La trattiamo come un disservizio e pubblicheremo gli aggiornamenti.",
};

const de: Record<Key, string> = {
  "incident.opened": "{company}: {title}",
  "incident.affected": "{company}: {title}",
  "incident.updated": "{company} Update: {title}",
  "incident.resolved": "{company} behoben: {title}",
  "incident.update_overdue": "Update überfällig: {title}",
  "maintenance.scheduled": "{company} Wartung geplant: {title}",
  "maintenance.reminder": "{company} Wartung beginnt bald: {title}",
  "maintenance.started": "{company} Wartung begonnen: {title}",
  "maintenance.completed": "{company} Wartung abgeschlossen: {title}",
  "maintenance.cancelled": "{company} Wartung abgesagt: {title}",
  "maintenance.overran": "{company} Wartung dauert länger: {title}",
  "compensation.granted": "{company}: Ihre Entschädigung für {title}",
  "report.received": "{company}: Wir haben Ihre Meldung erhalten",
  "reports.threshold": "{company}: Kunden melden Probleme mit {title}",
  "postmortem.published": "{company}: Was bei {title} passiert ist und was wir tun",
  "notifications.confirmation_needed": "SMS warten auf Ihre Freigabe: {title}",
  confirmationNeeded:
    "SMS an {messages, plural, one {# Empfänger} other {# Empfänger}} ({segments, plural, one {# Segment} other {# Segmente}}, {cost}) warten auf die Kostenbestätigung; die kostenlosen Kanäle sind raus. Bestätigen mit: amends notifications confirm {id}",
  reportLinked: "Wir kennen dieses Problem: {title}. Wir arbeiten daran.",
  reportPassed: "Dazu ist noch keine Störung eröffnet: Wir haben Ihre Meldung an unser Team weitergegeben.",
  reportNoClaim:
    "Sie müssen nichts beantragen: Steht Ihnen eine Entschädigung zu, erhalten Sie sie automatisch.",
  reportsCount:
    "{count, plural, one {# Meldung} other {# Meldungen}} in den letzten {minutes} Minuten, und keine Störung ist eröffnet.",
  digest: "{company}: {count, plural, one {# Update} other {# Updates}}",
  confirm: "Bestätigen Sie die Statusmeldungen von {company}",
  resolvedLine: "Behoben: {time}.",
  eta: "Voraussichtlich behoben: {time}.",
  nextUpdate: "Nächstes Update bis {time}.",
  window: "Von {start} bis {end}.",
  overdue: "Das bis {time} versprochene Update ist überfällig. Bitte jetzt eines veröffentlichen.",
  details: "Details: {url}",
  unsubscribe: "Keine Nachrichten mehr: {url}",
  confirmLink: "Bestätigen Sie, dass Sie Statusmeldungen von {company} erhalten möchten: {url}",
  confirmCode: "Ihr Bestätigungscode für {company} lautet {code}.",
  compensationIntro: "Wir entschuldigen uns für die Störung „{title}“ ({start} bis {end}).",
  compensationGot: "Sie erhalten {list}. Sie müssen nichts beantragen: Es ist bereits erledigt.",
  compensationNothing:
    "Diesmal steht Ihnen nichts zu. Wenn Sie das für falsch halten, antworten Sie auf diese Nachricht.",
  minutes: "{n, plural, one {# Freiminute} other {# Freiminuten}}",
  // ---- words (issue 17) ----
  refund: "eine Erstattung von {amount}",
  moneyCredit: "ein Guthaben von {amount}",
  creditTerms:
    "{what}: {city, select, none {nutzbar} other {nutzbar in {city}}} ab {from}{until, select, none {} other {; gültig {days, plural, one {# Tag} other {# Tage}}, bis {until}}}.",
  "auto.problemTitle": "Probleme mit {components}",
  "auto.problemTitleAny": "Probleme mit dem Dienst",
  "auto.problemBody":
    "Wir haben ein Problem mit {components} festgestellt und untersuchen es. Updates folgen hier.",
  "auto.problemBodyAny": "Wir haben ein Problem festgestellt und untersuchen es. Updates folgen hier.",
  "auto.recoveredBody":
    "{components} funktioniert wieder normal. Wir entschuldigen uns für die Unannehmlichkeiten.",
  "auto.recoveredBodyAny":
    "Alles funktioniert wieder normal. Wir entschuldigen uns für die Unannehmlichkeiten.",
  "auto.overrunTitle": "Wartung dauert länger: {title}",
  "auto.overrunBody":
    "Die Wartung „{title}“, geplant bis {end}, ist noch nicht abgeschlossen. Wir behandeln sie als Störung und informieren hier weiter.",
  "maintenance.scheduledText": "Geplante Wartung von {start} bis {end}.",
  "maintenance.reminderText": "Die geplante Wartung beginnt bald: von {start} bis {end}.",
  "maintenance.startedText": "Die geplante Wartung hat begonnen. Sie soll bis {end} enden.",
  "maintenance.completedText": "Die geplante Wartung ist abgeschlossen. Alles funktioniert wieder normal.",
  "maintenance.cancelledText":
    "Die geplante Wartung von {start} bis {end} ist abgesagt; für Sie ändert sich nichts.",
  "maintenance.overranText":
    "Die bis {end} geplante Wartung dauert länger. Wir behandeln sie als Störung und informieren weiter.",
};

const fr: Record<Key, string> = {
  "incident.opened": "{company} : {title}",
  "incident.affected": "{company} : {title}",
  "incident.updated": "Mise à jour {company} : {title}",
  "incident.resolved": "{company} résolu : {title}",
  "incident.update_overdue": "Mise à jour en retard : {title}",
  "maintenance.scheduled": "{company} maintenance prévue : {title}",
  "maintenance.reminder": "{company} la maintenance commence bientôt : {title}",
  "maintenance.started": "{company} maintenance commencée : {title}",
  "maintenance.completed": "{company} maintenance terminée : {title}",
  "maintenance.cancelled": "{company} maintenance annulée : {title}",
  "maintenance.overran": "{company} la maintenance prend du retard : {title}",
  "compensation.granted": "{company} : ce que nous vous devons pour {title}",
  "report.received": "{company} : nous avons reçu votre signalement",
  "reports.threshold": "{company} : des clients signalent des problèmes avec {title}",
  "postmortem.published": "{company} : ce qui s'est passé avec {title}, et ce que nous faisons",
  "notifications.confirmation_needed": "SMS en attente de votre accord : {title}",
  confirmationNeeded:
    "Les SMS à {messages, plural, one {# destinataire} other {# destinataires}} ({segments, plural, one {# segment} other {# segments}}, {cost}) attendent la confirmation du coût ; les canaux gratuits sont partis. Confirmez avec : amends notifications confirm {id}",
  reportLinked: "Nous connaissons ce problème : {title}. Nous y travaillons.",
  reportPassed: "Aucun incident n'est encore ouvert : nous avons transmis votre signalement à notre équipe.",
  reportNoClaim:
    "Vous n'avez rien à réclamer : si une compensation vous est due, vous la recevrez sans la demander.",
  reportsCount:
    "{count, plural, one {# signalement} other {# signalements}} dans les {minutes} dernières minutes, et aucun incident ouvert.",
  digest: "{company} : {count, plural, one {# mise à jour} other {# mises à jour}}",
  confirm: "Confirmez les alertes d'état de {company}",
  resolvedLine: "Résolu : {time}.",
  eta: "Résolution prévue : {time}.",
  nextUpdate: "Prochaine mise à jour avant {time}.",
  window: "Du {start} au {end}.",
  overdue: "La mise à jour promise pour {time} est en retard. Publiez-en une maintenant.",
  details: "Détails : {url}",
  unsubscribe: "Ne plus recevoir ces messages : {url}",
  confirmLink: "Confirmez que vous souhaitez recevoir les alertes d'état de {company} : {url}",
  confirmCode: "Votre code de confirmation {company} est {code}.",
  compensationIntro: "Nous sommes désolés pour la panne « {title} » ({start} – {end}).",
  compensationGot: "Vous recevez {list}. Vous n'avez rien à demander : c'est fait.",
  compensationNothing:
    "Rien ne vous était dû cette fois. Si vous pensez que c'est une erreur, répondez à ce message.",
  minutes: "{n, plural, one {# minute gratuite} other {# minutes gratuites}}",
  // ---- words (issue 17) ----
  refund: "un remboursement de {amount}",
  moneyCredit: "un avoir de {amount}",
  creditTerms:
    "{what} : {city, select, none {à utiliser} other {à utiliser à {city}}} à partir du {from}{until, select, none {} other { ; validité {days, plural, one {# jour} other {# jours}}, jusqu'au {until}}}.",
  "auto.problemTitle": "Problèmes avec {components}",
  "auto.problemTitleAny": "Problèmes de service",
  "auto.problemBody":
    "Nous avons détecté un problème avec {components} et l'analysons. Les mises à jour suivront ici.",
  "auto.problemBodyAny": "Nous avons détecté un problème et l'analysons. Les mises à jour suivront ici.",
  "auto.recoveredBody":
    "{components} fonctionne de nouveau normalement. Veuillez nous excuser pour la gêne occasionnée.",
  "auto.recoveredBodyAny":
    "Tout fonctionne de nouveau normalement. Veuillez nous excuser pour la gêne occasionnée.",
  "auto.overrunTitle": "Maintenance en retard : {title}",
  "auto.overrunBody":
    "La maintenance « {title} », prévue jusqu'au {end}, n'est pas encore terminée. Nous la traitons comme une panne et publierons les mises à jour ici.",
  "maintenance.scheduledText": "Maintenance prévue du {start} au {end}.",
  "maintenance.reminderText": "La maintenance prévue commence bientôt : du {start} au {end}.",
  "maintenance.startedText": "La maintenance prévue a commencé. Elle devrait se terminer le {end}.",
  "maintenance.completedText": "La maintenance prévue est terminée. Tout fonctionne de nouveau normalement.",
  "maintenance.cancelledText":
    "La maintenance prévue du {start} au {end} est annulée ; rien ne change pour vous.",
  "maintenance.overranText":
    "La maintenance prévue jusqu'au {end} prend du retard. Nous la traitons comme une panne et publierons les mises à jour.",
};

const es: Record<Key, string> = {
  "incident.opened": "{company}: {title}",
  "incident.affected": "{company}: {title}",
  "incident.updated": "Actualización de {company}: {title}",
  "incident.resolved": "{company} resuelto: {title}",
  "incident.update_overdue": "Actualización atrasada: {title}",
  "maintenance.scheduled": "{company} mantenimiento programado: {title}",
  "maintenance.reminder": "{company} el mantenimiento empieza pronto: {title}",
  "maintenance.started": "{company} mantenimiento iniciado: {title}",
  "maintenance.completed": "{company} mantenimiento completado: {title}",
  "maintenance.cancelled": "{company} mantenimiento cancelado: {title}",
  "maintenance.overran": "{company} el mantenimiento se retrasa: {title}",
  "compensation.granted": "{company}: lo que te debemos por {title}",
  "report.received": "{company}: hemos recibido tu aviso",
  "reports.threshold": "{company}: clientes avisan de problemas con {title}",
  "postmortem.published": "{company}: qué pasó con {title} y qué estamos haciendo",
  "notifications.confirmation_needed": "SMS a la espera de tu visto bueno: {title}",
  confirmationNeeded:
    "Los SMS a {messages, plural, one {# destinatario} other {# destinatarios}} ({segments, plural, one {# segmento} other {# segmentos}}, {cost}) esperan la confirmación del coste; los canales gratuitos ya han salido. Confirma con: amends notifications confirm {id}",
  reportLinked: "Conocemos este problema: {title}. Estamos trabajando en ello.",
  reportPassed: "Aún no hay ninguna incidencia abierta: hemos pasado tu aviso a nuestro equipo.",
  reportNoClaim: "No tienes que reclamar nada: si te corresponde una compensación, la recibirás sin pedirla.",
  reportsCount:
    "{count, plural, one {# aviso} other {# avisos}} en los últimos {minutes} minutos, y ninguna incidencia abierta.",
  digest: "{company}: {count, plural, one {# actualización} other {# actualizaciones}}",
  confirm: "Confirma las alertas de estado de {company}",
  resolvedLine: "Resuelto: {time}.",
  eta: "Solución prevista: {time}.",
  nextUpdate: "Próxima actualización antes de {time}.",
  window: "Del {start} al {end}.",
  overdue: "La actualización prometida para {time} está atrasada. Publica una ahora.",
  details: "Detalles: {url}",
  unsubscribe: "Dejar de recibir estos mensajes: {url}",
  confirmLink: "Confirma que quieres recibir las alertas de estado de {company}: {url}",
  confirmCode: "Tu código de confirmación de {company} es {code}.",
  compensationIntro: "Sentimos la interrupción «{title}» ({start} – {end}).",
  compensationGot: "Recibes {list}. No tienes que pedir nada: ya está hecho.",
  compensationNothing: "Esta vez no te corresponde nada. Si crees que es un error, responde a este mensaje.",
  minutes: "{n, plural, one {# minuto gratis} other {# minutos gratis}}",
  // ---- words (issue 17) ----
  refund: "un reembolso de {amount}",
  moneyCredit: "un crédito de {amount}",
  creditTerms:
    "{what}: {city, select, none {para usar} other {para usar en {city}}} a partir del {from}{until, select, none {} other {; validez de {days, plural, one {# día} other {# días}}, hasta el {until}}}.",
  "auto.problemTitle": "Problemas con {components}",
  "auto.problemTitleAny": "Problemas con el servicio",
  "auto.problemBody":
    "Hemos detectado un problema con {components} y lo estamos investigando. Publicaremos las novedades aquí.",
  "auto.problemBodyAny":
    "Hemos detectado un problema y lo estamos investigando. Publicaremos las novedades aquí.",
  "auto.recoveredBody": "{components} vuelve a funcionar con normalidad. Sentimos las molestias.",
  "auto.recoveredBodyAny": "Todo vuelve a funcionar con normalidad. Sentimos las molestias.",
  "auto.overrunTitle": "Mantenimiento con retraso: {title}",
  "auto.overrunBody":
    "El mantenimiento «{title}», previsto hasta el {end}, aún no ha terminado. Lo tratamos como una interrupción y publicaremos las novedades aquí.",
  "maintenance.scheduledText": "Mantenimiento programado del {start} al {end}.",
  "maintenance.reminderText": "El mantenimiento programado empieza pronto: del {start} al {end}.",
  "maintenance.startedText": "El mantenimiento programado ha comenzado. Debería terminar el {end}.",
  "maintenance.completedText":
    "El mantenimiento programado ha terminado. Todo vuelve a funcionar con normalidad.",
  "maintenance.cancelledText":
    "El mantenimiento programado del {start} al {end} se ha cancelado; para ti no cambia nada.",
  "maintenance.overranText":
    "El mantenimiento previsto hasta el {end} se está retrasando. Lo tratamos como una interrupción y publicaremos las novedades.",
};

const CATALOG: Record<string, Record<Key, string>> = { en, it, de, fr, es };
export const MESSAGE_LOCALES = Object.keys(CATALOG);

const cache = new Map<string, IntlMessageFormat>();
function msg(locale: string, key: Key, values: Record<string, string | number>): string {
  const id = `${locale}\u0000${key}`;
  let format = cache.get(id);
  if (!format) {
    format = new IntlMessageFormat(CATALOG[locale]![key], locale);
    cache.set(id, format);
  }
  return String(format.format(values));
}

export interface RenderContext {
  company: string;
  /** the workspace's time zone, for the times in the text */
  timeZone: string;
  fallbackLocale: string;
  /** the incident or status page link */
  url?: string;
  unsubscribeUrl?: string;
}

export interface Rendered {
  locale: string;
  subject: string;
  text: string;
  html: string;
}

type Payload = Record<string, unknown>;

/** The operator's text in the reader's language when they wrote one. */
const translated = (p: Payload, field: string, locale: string): string => {
  const translations = (p[`${field}_translations`] ?? {}) as Record<string, string>;
  return translations[locale] ?? String(p[field] ?? "");
};

const time = (iso: unknown, locale: string, timeZone: string) =>
  formatMessageTime(String(iso), locale, timeZone);

type GrantedLine = {
  kind: string;
  amount: number;
  currency?: string | null;
  unit?: string | null;
  scope?: string | null;
  expires_at?: string | null;
  visible_by?: string | null;
};

/**
 * What a customer got, in words: one total per currency for refunds, credits that share their
 * terms added up, and each credit with its terms (where it can be used, from when, until when).
 */
function grantedText(p: Payload, locale: string, timeZone: string): { list: string[]; terms: string[] } {
  const lines = ((p.lines ?? []) as GrantedLine[]).filter((l) => l.amount > 0);
  const places = (p.place_names ?? {}) as Record<string, string>;
  const from = String(p.as_of ?? p.window_end);
  const day = (iso: string) => formatMessageDay(iso, locale, timeZone);
  const refunds = lines.filter((l) => l.kind === "refund" && l.currency) as {
    amount: number;
    currency: string;
  }[];
  const list = moneyTotals(refunds, locale).map((amount) => msg(locale, "refund", { amount }));
  const terms: string[] = [];
  const groups = new Map<string, GrantedLine>();
  for (const l of lines.filter((l) => l.kind !== "refund")) {
    const k = [l.kind, l.currency, l.unit, l.scope, l.expires_at, l.visible_by].join("\u0000");
    const g = groups.get(k);
    groups.set(k, g ? { ...g, amount: g.amount + l.amount } : { ...l });
  }
  for (const g of groups.values()) {
    const what =
      g.kind === "unit_credit"
        ? g.unit === "minutes"
          ? msg(locale, "minutes", { n: g.amount })
          : `${new Intl.NumberFormat(locale).format(g.amount)} ${g.unit}`
        : msg(locale, "moneyCredit", { amount: formatAmount(g.amount, g.currency!, locale) });
    list.push(what);
    if (g.kind === "unit_credit" || g.expires_at || g.visible_by) {
      const until = g.expires_at ?? null;
      terms.push(
        msg(locale, "creditTerms", {
          what,
          city: g.scope ? (places[g.scope] ?? g.scope) : "none",
          from: day(g.visible_by ?? from),
          until: until ? day(until) : "none",
          days: until ? Math.round((Date.parse(until) - Date.parse(from)) / 86_400_000) : 0,
        }),
      );
    }
  }
  return { list, terms };
}

/** Renders one event for one recipient in their language (or the stated fallback). */
export function renderMessage(
  event: string,
  payload: Payload,
  wantedLocale: string | null | undefined,
  ctx: RenderContext,
): Rendered {
  const locale = pickLocale(wantedLocale, MESSAGE_LOCALES, ctx.fallbackLocale);
  const title = translated(payload, "title", locale) || translated(payload, "incident_title", locale);
  const key = (event in en ? event : "incident.updated") as Key;
  const subject = msg(locale, key, { company: ctx.company, title });
  const lines: string[] = [];
  const at = (v: unknown) => time(v, locale, ctx.timeZone);
  if (event.startsWith("incident.") && event !== "incident.update_overdue") {
    const body = translated(payload, "body", locale);
    if (body) lines.push(body);
    if (event === "incident.resolved" && payload.posted_at)
      lines.push(msg(locale, "resolvedLine", { time: at(payload.posted_at) }));
    if (payload.eta && event !== "incident.resolved")
      lines.push(msg(locale, "eta", { time: at(payload.eta) }));
    if (payload.next_update_by && event !== "incident.resolved")
      lines.push(msg(locale, "nextUpdate", { time: at(payload.next_update_by) }));
  } else if (event === "incident.update_overdue") {
    lines.push(msg(locale, "overdue", { time: at(payload.next_update_by) }));
  } else if (event.startsWith("maintenance.")) {
    const step = `${event}Text`;
    lines.push(
      step in en
        ? msg(locale, step as Key, { start: at(payload.starts_at), end: at(payload.ends_at) })
        : msg(locale, "window", { start: at(payload.starts_at), end: at(payload.ends_at) }),
    );
  } else if (event === "report.received") {
    lines.push(payload.linked ? msg(locale, "reportLinked", { title }) : msg(locale, "reportPassed", {}));
    if (payload.no_claim_needed) lines.push(msg(locale, "reportNoClaim", {}));
  } else if (event === "reports.threshold") {
    lines.push(
      msg(locale, "reportsCount", {
        count: Number(payload.count ?? 0),
        minutes: Number(payload.window_minutes ?? 0),
      }),
    );
  } else if (event === "postmortem.published") {
    // The letter itself, section by section, in the reader's language when the operator wrote one.
    const sections = (payload.sections ?? {}) as Record<string, string>;
    const translations = ((payload.translations ?? {}) as Record<string, Record<string, string>>)[locale];
    for (const key of ["what_happened", "what_we_did", "what_now", "what_we_change"]) {
      const text = translations?.[key] || sections[key];
      if (text) lines.push(text);
    }
  } else if (event === "notifications.confirmation_needed") {
    const sms = (payload.sms ?? {}) as { messages?: number; segments?: number; cost?: Money[] };
    lines.push(
      msg(locale, "confirmationNeeded", {
        messages: sms.messages ?? 0,
        segments: sms.segments ?? 0,
        cost: (sms.cost ?? []).map((c) => formatAmount(c.amount, c.currency, locale)).join(" + ") || "?",
        id: String(payload.event_id ?? ""),
      }),
    );
  } else if (event === "compensation.granted") {
    lines.push(
      msg(locale, "compensationIntro", {
        title,
        start: at(payload.window_start),
        end: at(payload.window_end),
      }),
    );
    const { list, terms } = grantedText(payload, locale, ctx.timeZone);
    lines.push(
      list.length
        ? msg(locale, "compensationGot", { list: listText(list, locale) })
        : msg(locale, "compensationNothing", {}),
      ...terms,
    );
  }
  if (ctx.url) lines.push(msg(locale, "details", { url: ctx.url }));
  return finish(locale, subject, lines, ctx);
}

/** One message folding several held ones (a digest), newest last. */
export function renderDigest(parts: Rendered[], locale: string, ctx: RenderContext): Rendered {
  const subject = msg(locale, "digest", { company: ctx.company, count: parts.length });
  const lines = parts.flatMap((p) => [`— ${p.subject}`, p.text.split("\n\n")[0] ?? ""]);
  if (ctx.url) lines.push(msg(locale, "details", { url: ctx.url }));
  return finish(locale, subject, lines, ctx);
}

/** The double opt-in message: a link for email-like channels, a code for SMS. */
export function renderConfirmation(
  locale: string,
  ctx: RenderContext,
  by: { url: string } | { code: string },
): Rendered {
  const l = pickLocale(locale, MESSAGE_LOCALES, ctx.fallbackLocale);
  const subject = msg(l, "confirm", { company: ctx.company });
  const line =
    "url" in by
      ? msg(l, "confirmLink", { company: ctx.company, url: by.url })
      : msg(l, "confirmCode", { company: ctx.company, code: by.code });
  return finish(l, subject, [line], { ...ctx, unsubscribeUrl: undefined });
}

/**
 * Adds the recipient's own unsubscribe line to a message rendered once for everyone who reads
 * that language (a fan-out renders each language once, not each recipient).
 */
export function withUnsubscribe(r: Rendered, url: string | undefined): Rendered {
  if (!url) return r;
  const line = msg(r.locale, "unsubscribe", { url });
  return {
    ...r,
    text: `${r.text}\n\n${line}`,
    html: r.html.replace("</body>", `<p>${linkify(line).value}</p></body>`),
  };
}

function finish(locale: string, subject: string, lines: string[], ctx: RenderContext): Rendered {
  const all = ctx.unsubscribeUrl
    ? [...lines, msg(locale, "unsubscribe", { url: ctx.unsubscribeUrl })]
    : lines;
  const text = all.join("\n\n");
  const html = `<!doctype html><html lang="${locale}"><body style="font-family:system-ui,sans-serif;line-height:1.5">${all
    .map((l) => `<p>${linkify(l).value}</p>`)
    .join("")}</body></html>`;
  return { locale, subject, text, html };
}

/**
 * Words Amends itself writes on an incident (a monitor's, an overrunning maintenance's), in every
 * shipped language: English as the original, the others as its translations, so the page and
 * every recipient read them in their own language like an operator's translated text.
 */
export function inEveryLanguage(
  key: Key,
  values: (locale: string) => Record<string, string | number>,
): { text: string; translations: Record<string, string> } {
  const translations = Object.fromEntries(
    MESSAGE_LOCALES.filter((l) => l !== "en").map((l) => [l, msg(l, key, values(l))]),
  );
  return { text: msg("en", key, values("en")), translations };
}
