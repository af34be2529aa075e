/**
 * The one client of the public /api/v1 API: the session cookie (same-origin) plus the CSRF
 * token on every unsafe request. Errors arrive as problem+json and become ApiError.
 */

export interface User {
  id: string;
  email: string;
  name: string;
  role: string;
  locale: string;
  totpEnabled: boolean;
  disabled?: boolean;
}
export interface Session {
  user: User;
  permissions: string[];
  csrfToken: string;
  workspace: { id: string; name: string };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly errors: { field?: string; message?: string }[] = [],
  ) {
    super(message);
  }
  /** The message for one field, for showing beside its input. */
  field(name: string): string | undefined {
    return this.errors.find((e) => e.field === name)?.message;
  }
}

let csrfToken = "";
export const setCsrfToken = (token: string) => {
  csrfToken = token;
};

export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  return send<T>(
    method,
    path,
    body === undefined ? undefined : { body: JSON.stringify(body), type: "application/json" },
  );
}

/** A file as the request's body, with its own type (an image for the brand, say). */
export const putFile = <T>(path: string, file: Blob, type: string) =>
  send<T>("PUT", path, { body: file, type });

async function send<T>(method: string, path: string, content?: { body: BodyInit; type: string }): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (content) headers["content-type"] = content.type;
  if (!["GET", "HEAD"].includes(method) && csrfToken) headers["x-csrf-token"] = csrfToken;
  const res = await fetch(`/api/v1${path}`, {
    method,
    headers,
    credentials: "same-origin",
    ...(content && { body: content.body }),
  });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const p = (json ?? {}) as { code?: string; detail?: string; title?: string; errors?: ApiError["errors"] };
    throw new ApiError(
      res.status,
      p.code ?? String(res.status),
      p.detail ?? p.title ?? res.statusText,
      p.errors,
    );
  }
  return json as T;
}

export const get = <T>(path: string) => api<T>("GET", path);
export const post = <T>(path: string, body?: unknown) => api<T>("POST", path, body ?? {});
export const patch = <T>(path: string, body: unknown) => api<T>("PATCH", path, body);
export const put = <T>(path: string, body: unknown) => api<T>("PUT", path, body);
export const del = <T>(path: string) => api<T>("DELETE", path);

/** Query string from the non-empty values. */
export const qs = (params: Record<string, string | number | undefined>) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
};

// Shapes of the API's answers, as much as the console reads.
export type ComponentStatus =
  | "operational"
  | "degraded_performance"
  | "partial_outage"
  | "major_outage"
  | "under_maintenance";
export const COMPONENT_STATUSES: ComponentStatus[] = [
  "operational",
  "degraded_performance",
  "partial_outage",
  "major_outage",
  "under_maintenance",
];
export const INCIDENT_STATUSES = ["investigating", "identified", "monitoring", "resolved"] as const;

export interface Component {
  id: string;
  parent_id: string | null;
  name: string;
  description: string | null;
  region: string | null;
  effective_region: string | null;
  path: string[];
  status: ComponentStatus;
  own_status: ComponentStatus;
  position: number;
}
export interface IncidentUpdate {
  id: string;
  status: string;
  body: string;
  body_translations: Record<string, string>;
  eta: string | null;
  next_update_by: string | null;
  created_at: string;
  created_by: string | null;
}
export interface Incident {
  id: string;
  title: string;
  title_translations: Record<string, string>;
  impact: string;
  status: string;
  started_at: string;
  resolved_at: string | null;
  eta: string | null;
  next_update_by: string | null;
  components: { id: string; status: ComponentStatus }[];
  updates: IncidentUpdate[];
}
export interface Maintenance {
  id: string;
  title: string;
  body: string;
  components: string[];
  starts_at: string;
  ends_at: string;
  status: string;
}
export interface Money {
  amount: number;
  currency: string;
}
export interface Estimate {
  recipients: Record<string, number>;
  sms: { messages: number; segments: number; cost: Money[]; unpriced: number };
  needsConfirmation: boolean;
  total: number;
}
export interface NotificationEvent {
  id: string;
  event: string;
  incident_id: string | null;
  status: string;
  estimate: Estimate | null;
  created_at: string;
  progress: { channel: string; status: string; n: number }[];
}
export interface Subscriber {
  id: string;
  channel: string;
  address: string;
  locale: string;
  components: string[];
  regions: string[];
  /** set: follows this one incident only */
  incident_id: string | null;
  confirmed_at: string | null;
  unsubscribed_at: string | null;
}
export interface Run {
  id: string;
  incident_id: string;
  policy: { id: string; version: number };
  status: "previewing" | "previewed" | "approved" | "applied";
  summary: { money?: Record<string, number>; units?: Record<string, number>; lines?: number } & Record<
    string,
    unknown
  >;
  created_at: string;
  created_by: string | null;
  approved_at: string | null;
  approved_by: string | null;
  applied_at: string | null;
  applied: Record<string, unknown> | null;
}
export interface PreviewLine {
  key: string;
  customerId: string;
  rule: string;
  kind: string;
  amount: number;
  currency: string | null;
  unit: string | null;
  [k: string]: unknown;
}
export interface Preview {
  run: Run;
  lines: PreviewLine[];
  excluded: { customer_id: string; reference: string; reason: string }[];
  review: { customer_id: string; reference: string; reason: string; detail?: unknown }[];
  totals: { money: Record<string, number>; units: Record<string, number> };
  per_customer: { customer_id: string; money: Record<string, number>; units: Record<string, number> }[];
}
export interface Chart {
  measure: { currency: string } | { unit: string };
  bars: { label: string; amount: number; customers: number }[];
}
export interface RunReport {
  byCity: Chart[];
  byRule: Chart[];
  excluded: { reason: string; count: number }[];
  review: { reason: string; count: number }[];
}
export interface Monitor {
  id: string;
  name: string;
  kind: string;
  target: string;
  componentIds: string[];
  intervalSeconds: number;
  state: "up" | "down" | "pending" | "paused";
  lastCheckAt: string | null;
  lastLatencyMs: number | null;
  onFailure?: string;
  protocol?: string | null;
}
export interface SignalPoint {
  at: string;
  observed: number;
  expected: number;
  confidence: number;
  verdict: "ok" | "failing" | "learning";
}
export interface AlertIntegration {
  id: string;
  name: string;
  tool: string;
  webhookUrl: string;
  onFailure: string;
  state: "up" | "down" | "pending" | "paused";
  incidentId: string | null;
  failingComponents: { componentId: string; status: string }[];
}
export interface ReceivedAlert {
  fingerprint: string;
  status: "firing" | "resolved";
  summary: string;
  labels: Record<string, string>;
  components: { componentId: string; status: string }[] | null;
  updatedAt: string;
}
export interface CheckResult {
  at: string;
  ok?: boolean;
  latencyMs?: number;
  location?: string;
  error?: string;
  checks?: number;
  failures?: number;
  latencyP50Ms?: number;
  latencyP95Ms?: number;
}
export interface Protocol {
  name: string;
  title?: string;
  description?: string;
  [k: string]: unknown;
}
export interface AuditEntry {
  id: string;
  at: string;
  actor: { kind: string; id: string; name: string };
  action: string;
  target: { type: string; id: string };
  before: unknown;
  after: unknown;
  ip: string | null;
}
/** The status page's look; null where unset (the page then uses the workspace's name, its own colour, no logo). */
export interface Brand {
  name: string | null;
  accent_color: string | null;
  /** paths on the status page, e.g. /brand/logo-<hash>.png */
  logo_url: string | null;
  favicon_url: string | null;
}
export interface Policy {
  id: string;
  version: number;
}

/**
 * A list answer: `{<name>: [...]}`, `{items: [...]}` or a bare array. The contracts fix the
 * items of these newer lists but not their envelope, so the console accepts each.
 */
export async function getList<T>(path: string, name: string): Promise<T[]> {
  const r = await get<unknown>(path);
  if (Array.isArray(r)) return r as T[];
  const o = (r ?? {}) as Record<string, unknown>;
  const list = o[name] ?? o.items;
  return Array.isArray(list) ? (list as T[]) : [];
}
