/**
 * Alerts from the company's own monitoring, as pure decisions: each tool's webhook body read
 * into one shape (which alert, firing or resolved, its labels), labels mapped onto components
 * by the integration's rules, and whether the integration as a whole is failing. No I/O.
 *
 * Formats, from each tool's documentation:
 * - Prometheus Alertmanager: the webhook receiver's JSON, version 4 (`alerts[]`, `fingerprint`).
 * - Grafana alerting: the webhook contact point, Alertmanager's shape with Grafana's fields added.
 * - Datadog: a webhook whose custom payload carries `$ALERT_ID`, `$ALERT_TRANSITION`, `$ALERT_SCOPE`…
 *   (the payload to paste is in the integration's instructions, `DATADOG_PAYLOAD`).
 * - PagerDuty: v3 webhook subscriptions (`event.event_type` incident.triggered / resolved …).
 * - Opsgenie: the outgoing Webhook integration (`action` Create / Close …, `alert.alertId`).
 */
import { z } from "zod";
import { type ComponentStatus, worstStatus } from "./components.ts";
import { AmendsError, type FieldError, invalidField } from "./errors.ts";

export const ALERT_TOOLS = ["alertmanager", "grafana", "datadog", "pagerduty", "opsgenie"] as const;
export type AlertTool = (typeof ALERT_TOOLS)[number];

export interface ReceivedAlert {
  /** the tool's identity of one alert (a rule with one set of labels) */
  fingerprint: string;
  /** ignored: a notification that changes nothing here (acknowledged, a note, a warning) */
  status: "firing" | "resolved" | "ignored";
  /** the same notification delivered again carries the same key */
  eventKey: string;
  labels: Record<string, string>;
  /** the tool's one-line description, for the team */
  summary: string;
  /** when the tool says it happened (epoch ms), if it says */
  at: number | null;
}

const Labels = z.record(z.string(), z.string());
const rfc3339 = (v: string | undefined) => {
  const ms = v ? Date.parse(v) : Number.NaN;
  // Alertmanager's "0001-01-01T00:00:00Z" means "not set".
  return Number.isFinite(ms) && ms > 0 ? ms : null;
};

const AlertmanagerBody = z.looseObject({
  version: z.string().optional(),
  alerts: z
    .array(
      z.looseObject({
        status: z.enum(["firing", "resolved"]),
        labels: Labels,
        annotations: Labels.default({}),
        startsAt: z.string(),
        endsAt: z.string().optional(),
        fingerprint: z.string().min(1).max(200),
      }),
    )
    .max(1_000),
});

function alertmanager(body: unknown): ReceivedAlert[] {
  return parse(AlertmanagerBody, body).alerts.map((a) => ({
    fingerprint: a.fingerprint,
    status: a.status,
    // Alertmanager repeats a firing alert every repeat_interval with the same startsAt: one event.
    eventKey: `${a.fingerprint}:${a.status}:${a.startsAt}`,
    labels: a.labels,
    summary: a.annotations.summary ?? a.annotations.description ?? a.labels.alertname ?? a.fingerprint,
    at: rfc3339(a.status === "resolved" ? a.endsAt : a.startsAt) ?? rfc3339(a.startsAt),
  }));
}

const GrafanaLegacyBody = z.looseObject({
  ruleId: z.union([z.number(), z.string().min(1).max(200)]),
  ruleName: z.string().max(2_000).optional(),
  title: z.string().max(2_000).optional(),
  message: z.string().max(10_000).optional(),
  state: z.string().min(1).max(50),
  tags: z.record(z.string(), z.string()).default({}),
  evalMatches: z
    .array(
      z.looseObject({
        value: z.unknown(),
        metric: z.string().max(500).optional(),
        tags: z.record(z.string(), z.string()).nullish(),
      }),
    )
    .max(1_000)
    .default([]),
});

function grafanaLegacy(body: unknown): ReceivedAlert[] {
  const b = parse(GrafanaLegacyBody, body);
  const status = b.state === "alerting" ? "firing" : b.state === "ok" ? "resolved" : "ignored";
  const labels: Record<string, string> = { ...b.tags };
  // The series that matched (city=milan) label the alert too, when they agree.
  for (const m of b.evalMatches) for (const [k, v] of Object.entries(m.tags ?? {})) labels[k] ??= v;
  const fingerprint = `rule-${b.ruleId}`;
  return [
    {
      fingerprint,
      status,
      // No timestamp in it: the values that matched tell one notification from the next.
      eventKey: `${fingerprint}:${b.state}:${JSON.stringify(b.evalMatches)}`.slice(0, 1_000),
      labels,
      summary: b.ruleName ?? b.title ?? fingerprint,
      at: null,
    },
  ];
}

/** The custom payload to give a Datadog webhook (its template variables, filled in by Datadog). */
export const DATADOG_PAYLOAD = {
  alert_id: "$ALERT_ID",
  alert_transition: "$ALERT_TRANSITION",
  alert_cycle_key: "$ALERT_CYCLE_KEY",
  alert_scope: "$ALERT_SCOPE",
  alert_title: "$ALERT_TITLE",
  tags: "$TAGS",
  date: "$DATE",
  event_id: "$ID",
};

const Text = z.union([z.string().max(2_000), z.number()]);
const DatadogBody = z.looseObject({
  alert_id: Text.optional(),
  alert_transition: z.string().max(50).optional(),
  alert_cycle_key: Text.optional(),
  alert_scope: z.string().max(2_000).optional(),
  alert_title: z.string().max(2_000).optional(),
  title: z.string().max(2_000).optional(),
  tags: z.string().max(10_000).optional(),
  date: Text.optional(),
  event_id: Text.optional(),
  /** Datadog's default payload: `$ID`, the notification's own id */
  id: Text.optional(),
});

/** Datadog's `key:value` lists ("city:milan,service:rentals"); a bare tag is `tag: ""`. */
function keyValues(text: string | undefined, into: Record<string, string>) {
  for (const part of (text ?? "").split(",")) {
    const tag = part.trim();
    if (!tag || tag === "*") continue;
    const colon = tag.indexOf(":");
    if (colon < 0) into[tag] = into[tag] ?? "";
    else into[tag.slice(0, colon)] = tag.slice(colon + 1);
  }
  return into;
}

const DATADOG_FIRING = new Set(["triggered", "re-triggered", "renotify"]);

/**
 * Datadog's default payload says the transition only in the title: "[Triggered on {city:milan}]
 * Ended rentals dropped", "[P1] [Recovered] …". The monitor's name after the brackets stands for
 * its id there.
 */
function fromTitle(title: string | undefined) {
  const tokens = [...(title ?? "").matchAll(/\[([^\]]*)\]/g)].map((m) => m[1]!);
  for (const token of tokens) {
    const m = /^(Triggered|Re-Triggered|Recovered|Warn|Re-Warned|Renotify|No Data)(?: on \{(.*)\})?$/i.exec(
      token.trim(),
    );
    if (m) return { transition: m[1], scope: m[2], name: (title ?? "").replace(/^(\s*\[[^\]]*\])+\s*/, "") };
  }
  return { transition: undefined, scope: undefined, name: undefined };
}

function datadog(body: unknown): ReceivedAlert[] {
  const b = parse(DatadogBody, body);
  const title = b.alert_title ?? b.title;
  const seen = fromTitle(title);
  const transitionText = b.alert_transition ?? seen.transition;
  if (!transitionText)
    throw invalidField("alert_transition", "$ALERT_TRANSITION, or a title that starts with it");
  const id = b.alert_id ?? seen.name;
  if (id === undefined || id === "")
    throw invalidField("alert_id", "$ALERT_ID, or a title that names the monitor");
  const transition = transitionText.toLowerCase();
  // The scope is the group of a multi-alert ("city:milan"): each group is an alert of its own.
  const scopeText = b.alert_scope ?? seen.scope;
  const scope = keyValues(scopeText, {});
  const labels = keyValues(scopeText, keyValues(b.tags, {}));
  const fingerprint = `${id}:${Object.entries(scope)
    .sort(([a], [c]) => a.localeCompare(c))
    .map(([k, v]) => `${k}=${v}`)
    .join(",")}`;
  const status = DATADOG_FIRING.has(transition)
    ? "firing"
    : transition === "recovered"
      ? "resolved"
      : "ignored";
  const at = b.date === undefined ? null : Number(b.date);
  return [
    {
      fingerprint,
      status,
      eventKey: `${fingerprint}:${status}:${b.alert_cycle_key ?? b.event_id ?? b.id ?? b.date ?? ""}`,
      labels,
      summary: title ?? `Datadog monitor ${id}`,
      at: at !== null && Number.isFinite(at) ? at : null,
    },
  ];
}

const Reference = z.looseObject({ summary: z.string().max(500).optional(), id: z.string().optional() });
const PagerDutyBody = z.looseObject({
  event: z.looseObject({
    id: z.string().min(1).max(200),
    event_type: z.string().min(1).max(100),
    occurred_at: z.string().optional(),
    data: z.looseObject({
      id: z.string().min(1).max(200),
      title: z.string().max(2_000).optional(),
      urgency: z.string().optional(),
      service: Reference.nullish(),
      priority: Reference.nullish(),
      escalation_policy: Reference.nullish(),
    }),
  }),
});

function pagerduty(body: unknown): ReceivedAlert[] {
  const { event } = parse(PagerDutyBody, body);
  const d = event.data;
  const type = event.event_type;
  const status =
    type === "incident.triggered" || type === "incident.reopened"
      ? "firing"
      : type === "incident.resolved"
        ? "resolved"
        : "ignored";
  const labels: Record<string, string> = {};
  if (d.service?.summary) labels.service = d.service.summary;
  if (d.service?.id) labels.service_id = d.service.id;
  if (d.urgency) labels.urgency = d.urgency;
  if (d.priority?.summary) labels.priority = d.priority.summary;
  if (d.escalation_policy?.summary) labels.escalation_policy = d.escalation_policy.summary;
  return [
    {
      fingerprint: d.id,
      status,
      // Every delivery of one PagerDuty event has the event's id.
      eventKey: event.id,
      labels,
      summary: d.title ?? `PagerDuty incident ${d.id}`,
      at: rfc3339(event.occurred_at),
    },
  ];
}

const OpsgenieBody = z.looseObject({
  action: z.string().min(1).max(100),
  alert: z.looseObject({
    alertId: z.string().min(1).max(200),
    message: z.string().max(2_000).optional(),
    tags: z.array(z.string().max(500)).max(200).default([]),
    details: z.record(z.string(), z.unknown()).default({}),
    entity: z.string().max(500).optional(),
    source: z.string().max(500).optional(),
    priority: z.string().max(20).optional(),
    team: z.string().max(500).optional(),
    createdAt: z.number().optional(),
  }),
});

function opsgenie(body: unknown): ReceivedAlert[] {
  const { action, alert } = parse(OpsgenieBody, body);
  const status = action === "Create" ? "firing" : action === "Close" ? "resolved" : "ignored";
  const labels = keyValues(alert.tags.join(","), {});
  for (const [k, v] of Object.entries(alert.details)) if (typeof v === "string") labels[k] = v;
  for (const k of ["entity", "source", "priority", "team"] as const) if (alert[k]) labels[k] = alert[k]!;
  return [
    {
      fingerprint: alert.alertId,
      status,
      // Opsgenie creates and closes an alert once; a closed alert that fires again is a new alertId.
      eventKey: `${alert.alertId}:${status === "ignored" ? action : status}`,
      labels,
      summary: alert.message ?? `Opsgenie alert ${alert.alertId}`,
      at: alert.createdAt ?? null,
    },
  ];
}

function parse<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const fields: FieldError[] = parsed.error.issues.slice(0, 10).map((issue) => ({
    field: issue.path.length ? issue.path.join(".") : "body",
    message: issue.message,
  }));
  throw new AmendsError(
    "VALIDATION_FAILED",
    fields.map((f) => `${f.field}: ${f.message}`).join("; "),
    fields,
  );
}

/** The alerts in one webhook delivery from `tool`; a body of the wrong shape is refused naming the field. */
export function readAlerts(tool: AlertTool, body: unknown): ReceivedAlert[] {
  switch (tool) {
    case "alertmanager":
      return alertmanager(body);
    case "grafana":
      // Grafana before unified alerting (8 and earlier, or legacy alerting) posts one rule's state.
      return body && typeof body === "object" && !("alerts" in body) && "ruleId" in body
        ? grafanaLegacy(body)
        : alertmanager(body);
    case "datadog":
      return datadog(body);
    case "pagerduty":
      return pagerduty(body);
    case "opsgenie":
      return opsgenie(body);
  }
}

// ---- Mapping alerts onto components ----------------------------------------------------------

export interface AlertRule {
  /** every label named must have this value (or one of these values) */
  match: Record<string, string | string[]>;
  /** component ids; `{label}` is replaced by the alert's label (`end-rental-{city}`) */
  components: string[];
  /** the components' status while the alert fires (the integration's default otherwise) */
  status?: ComponentStatus;
}

export const ruleMatches = (rule: AlertRule, labels: Readonly<Record<string, string>>) =>
  Object.entries(rule.match).every(([k, want]) =>
    Array.isArray(want) ? want.includes(labels[k] ?? "\u0000") : labels[k] === want,
  );

/**
 * Where an alert lands: the first rule that matches it, its components with labels filled in
 * (a placeholder whose label is missing drops that component). No rules: the alert counts, on
 * no component in particular. Rules but no match: null, the alert is not this team's business.
 */
export function mapAlert(
  rules: readonly AlertRule[],
  labels: Readonly<Record<string, string>>,
  fallbackStatus: ComponentStatus,
): { componentId: string; status: ComponentStatus }[] | null {
  if (rules.length === 0) return [];
  const rule = rules.find((r) => ruleMatches(r, labels));
  if (!rule) return null;
  const out = new Map<string, ComponentStatus>();
  for (const template of rule.components) {
    let missing = false;
    const id = template.replace(/\{([^{}]+)\}/g, (_, name: string) => {
      const v = labels[name.trim()];
      if (v === undefined || v === "") missing = true;
      return (v ?? "").toLowerCase().replace(/[^a-z0-9_-]+/g, "-");
    });
    if (!missing) out.set(id, rule.status ?? fallbackStatus);
  }
  return [...out].map(([componentId, status]) => ({ componentId, status }));
}

/** The components of every firing alert, each once at its worst status, in a stable order. */
export function failingComponents(
  firing: readonly { componentId: string; status: ComponentStatus }[][],
): { componentId: string; status: ComponentStatus }[] {
  const seen = new Map<string, ComponentStatus[]>();
  for (const list of firing)
    for (const c of list) seen.set(c.componentId, [...(seen.get(c.componentId) ?? []), c.status]);
  return [...seen]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([componentId, statuses]) => ({ componentId, status: worstStatus(statuses) }));
}
