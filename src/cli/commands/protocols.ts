/** `amends protocol`: emergency protocols, prepared incidents started in one action. */
import { formatMoney } from "../../core/money.ts";
import { api, CliError, globals, print } from "../context.ts";
import { waits } from "../format.ts";

const smsLine = (e: any) =>
  `SMS: ${e.sms.messages} message(s), ${e.sms.segments} segment(s), ${e.sms.cost.map((m: { amount: number; currency: string }) => formatMoney(m)).join(" + ") || "no cost"}${e.sms.unpriced ? ` (${e.sms.unpriced} unpriced)` : ""}`;
const estimateLines = (e: any) => [
  `${e.total} recipient(s): ${
    Object.entries(e.recipients)
      .map(([c, n]) => `${n} ${c}`)
      .join(", ") || "nobody"
  }`,
  smsLine(e),
];

/** An ETA from the command line: minutes or hours from now ("90m", "2h"), or an instant with its offset. */
function etaOf(when: string): string {
  const relative = /^\+?(\d{1,5})\s*(m|min|h)$/i.exec(when.trim());
  if (relative) {
    const minutes = Number(relative[1]) * (relative[2]!.toLowerCase() === "h" ? 60 : 1);
    return new Date(Date.now() + minutes * 60_000).toISOString();
  }
  return when; // the server checks it (an ISO 8601 instant with Z or an offset)
}

export async function list() {
  const res = await api("GET", "/api/v1/protocols");
  print(
    res,
    () =>
      res.items
        .map(
          (p: { name: string; title: string; components: { id: string }[]; incidentId: string | null }) =>
            `${p.name.padEnd(24)} ${p.title}  [${p.components.map((c) => c.id).join(", ")}]${p.incidentId ? `  last: ${p.incidentId}` : ""}`,
        )
        .join("\n") || "No protocols. Create one with PUT /api/v1/protocols/NAME.",
  );
}

export async function start(name: string, o: { dryRun?: boolean; yes?: boolean; eta?: string }) {
  const path = `/api/v1/protocols/${encodeURIComponent(name)}/start`;
  const eta = o.eta === undefined ? undefined : etaOf(o.eta);
  const dry = await api("POST", path, { dryRun: true, eta });
  const e = dry.estimate;
  if (!globals().json || o.dryRun) print(dry, () => estimateLines(e).join("\n"));
  if (o.dryRun) return;
  const paid = e.sms.messages > 0 && e.sms.cost.some((m: { amount: number }) => m.amount > 0);
  if (paid && !o.yes) {
    if (!process.stdin.isTTY)
      throw new CliError("error: this sends paid SMS; run again with --yes to confirm");
    const { createInterface } = await import("node:readline/promises");
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    const answer = await rl.question(`Send, including ${smsLine(e)}? [y/N] `);
    rl.close();
    if (!/^y(es)?$/i.test(answer.trim())) throw new CliError("Not started.");
  }
  const res = await api("POST", path, { dryRun: false, eta });
  print(res, () =>
    res.alreadyOpen
      ? `Protocol ${name} is already under way: ${res.incident.id} (${res.incident.status}).`
      : `Started ${name}: ${res.incident.id} "${res.incident.title}" on ${res.incident.components.map((c: { id: string; status: string }) => `${c.id}=${c.status}`).join(", ") || "no components"}.${waits(res)}`,
  );
}
