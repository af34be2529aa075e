/**
 * Messages per event and locale, as ICU MessageFormat (intl-messageformat). The operator's own
 * words (incident title and update) come in the recipient's language when written; otherwise
 * in the original. Our words ship in en, it, de, fr, es; any other locale falls back to the
 * workspace's fallback locale, then English.
 */
import { IntlMessageFormat } from "intl-messageformat";
import { currencyExponent, type Money } from "../core/money.ts";
import { pickLocale } from "../core/notifications.ts";
import { escapeHtml } from "../lib/html.ts";

const en = {
  "incident.opened": "{company}: {title}",
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
};
type Key = keyof typeof en;

const it: Record<Key, string> = {
  "incident.opened": "{company}: {title}",
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
  eta: "Risoluzione prevista: {time}.",
  nextUpdate: "Prossimo aggiornamento entro {time}.",
  window: "Dalle {start} alle {end}.",
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
};

const de: Record<Key, string> = {
  "incident.opened": "{company}: {title}",
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
};

const fr: Record<Key, string> = {
  "incident.opened": "{company} : {title}",
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
  eta: "Résolution prévue : {time}.",
  nextUpdate: "Prochaine mise à jour avant {time}.",
  window: "De {start} à {end}.",
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
};

const es: Record<Key, string> = {
  "incident.opened": "{company}: {title}",
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
  eta: "Solución prevista: {time}.",
  nextUpdate: "Próxima actualización antes de {time}.",
  window: "De {start} a {end}.",
  overdue: "La actualización prometida para {time} está atrasada. Publica una ahora.",
  details: "Detalles: {url}",
  unsubscribe: "Dejar de recibir estos mensajes: {url}",
  confirmLink: "Confirma que quieres recibir las alertas de estado de {company}: {url}",
  confirmCode: "Tu código de confirmación de {company} es {code}.",
  compensationIntro: "Sentimos la interrupción «{title}» ({start} – {end}).",
  compensationGot: "Recibes {list}. No tienes que pedir nada: ya está hecho.",
  compensationNothing: "Esta vez no te corresponde nada. Si crees que es un error, responde a este mensaje.",
  minutes: "{n, plural, one {# minuto gratis} other {# minutos gratis}}",
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

const dateFormats = new Map<string, Intl.DateTimeFormat>();
const time = (iso: unknown, locale: string, timeZone: string) => {
  const id = `${locale}\u0000${timeZone}`;
  let format = dateFormats.get(id);
  if (!format) {
    format = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short", timeZone });
    dateFormats.set(id, format);
  }
  return format.format(new Date(String(iso)));
};

function moneyText(amount: number, currency: string, locale: string) {
  const digits = currencyExponent(currency);
  // Minor units to a decimal string without floats: 1234 EUR → "12.34".
  const s = String(Math.abs(amount)).padStart(digits + 1, "0");
  const decimal = `${amount < 0 ? "-" : ""}${digits ? `${s.slice(0, -digits)}.${s.slice(-digits)}` : s}`;
  return new Intl.NumberFormat(locale, {
    style: "currency",
    currency,
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(
    decimal as unknown as number, // Intl accepts decimal strings exactly (ES2023)
  );
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
    if (payload.eta && event !== "incident.resolved")
      lines.push(msg(locale, "eta", { time: at(payload.eta) }));
    if (payload.next_update_by && event !== "incident.resolved")
      lines.push(msg(locale, "nextUpdate", { time: at(payload.next_update_by) }));
  } else if (event === "incident.update_overdue") {
    lines.push(msg(locale, "overdue", { time: at(payload.next_update_by) }));
  } else if (event.startsWith("maintenance.")) {
    lines.push(msg(locale, "window", { start: at(payload.starts_at), end: at(payload.ends_at) }));
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
        cost: (sms.cost ?? []).map((c) => moneyText(c.amount, c.currency, locale)).join(" + ") || "?",
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
    const got = (
      (payload.lines ?? []) as { kind: string; amount: number; currency?: string; unit?: string }[]
    )
      .filter((l) => l.amount > 0)
      .map((l) =>
        l.kind === "unit_credit"
          ? l.unit === "minutes"
            ? msg(locale, "minutes", { n: l.amount })
            : `${l.amount} ${l.unit}`
          : moneyText(l.amount, l.currency!, locale),
      );
    lines.push(
      got.length
        ? msg(locale, "compensationGot", { list: new Intl.ListFormat(locale).format(got) })
        : msg(locale, "compensationNothing", {}),
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
    html: r.html.replace("</body>", `<p>${linkify(line)}</p></body>`),
  };
}

const linkify = (line: string) =>
  escapeHtml(line).replace(/https?:\/\/[^\s<]+/g, (u) => `<a href="${u}">${u}</a>`);

function finish(locale: string, subject: string, lines: string[], ctx: RenderContext): Rendered {
  const all = ctx.unsubscribeUrl
    ? [...lines, msg(locale, "unsubscribe", { url: ctx.unsubscribeUrl })]
    : lines;
  const text = all.join("\n\n");
  const html = `<!doctype html><html lang="${locale}"><body style="font-family:system-ui,sans-serif;line-height:1.5">${all
    .map((l) => `<p>${linkify(l)}</p>`)
    .join("")}</body></html>`;
  return { locale, subject, text, html };
}
