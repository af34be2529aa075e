/** Human output of the CLI. `--json` prints the API's JSON instead. */
const STATUS_MARK: Record<string, string> = {
  operational: "✓",
  under_maintenance: "🔧",
  degraded_performance: "~",
  partial_outage: "!",
  major_outage: "✗",
};

export function formatComponents(components: any[]): string {
  if (components.length === 0) return "No components.";
  const width = Math.max(...components.map((c) => (c.path.length - 1) * 2 + c.name.length));
  return components
    .map((c) => {
      const label = `${"  ".repeat(c.path.length - 1)}${c.name}`.padEnd(width);
      const region = c.region ? ` [${c.region}]` : "";
      return `${STATUS_MARK[c.status] ?? "?"} ${label}  ${c.status.padEnd(20)} ${c.id}${region}`;
    })
    .join("\n");
}

export function formatIncident(i: any, detailed = false): string {
  const head = `${i.id}  [${i.impact}] ${i.status}  ${i.title}`;
  const lines = [head, `  started ${i.started_at}${i.resolved_at ? `, resolved ${i.resolved_at}` : ""}`];
  if (i.components.length)
    lines.push(`  components: ${i.components.map((c: any) => `${c.id}=${c.status}`).join(", ")}`);
  if (i.eta) lines.push(`  ETA ${i.eta}`);
  if (i.next_update_by) lines.push(`  next update by ${i.next_update_by}`);
  if (detailed) {
    for (const u of i.updates) lines.push(`  - ${u.created_at} ${u.status}: ${u.body}`);
  }
  return lines.join("\n");
}

/** An API answer's word on messages that wait for cost confirmation (only paid SMS ever do). */
export const waits = (res: { notification?: { message: string } | null }) =>
  res.notification ? `\n${res.notification.message}` : "";

export function formatProblem(p: any): string {
  const lines = [`error: ${p?.detail ?? p?.title ?? "request failed"}${p?.code ? ` (${p.code})` : ""}`];
  for (const e of p?.errors ?? []) lines.push(`  ${e.field}: ${e.message}`);
  return lines.join("\n");
}

/** `2h`, `30m`, `1d` from now, or an ISO 8601 date-time with offset. */
export function parseWhen(value: string, now: Date): string {
  const m = /^(\d+)\s*(m|min|h|d)$/.exec(value.trim());
  if (m) {
    const unit = { m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "m"];
    return new Date(now.getTime() + Number(m[1]) * unit).toISOString();
  }
  return value; // the API validates it and names the field if it is wrong
}

/** `end-rental-milan=major_outage`; the status defaults to major_outage. */
export function parseComponent(value: string): { id: string; status: string } {
  const [id, status] = value.split("=", 2);
  return { id: id!.trim(), status: (status ?? "major_outage").trim() };
}
