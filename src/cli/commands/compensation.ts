/** `amends compensate`: compensation runs, preview → approve → apply → export. */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { EXCLUDED_SAMPLE } from "../../core/compensation/preview.ts";
import { formatMoney } from "../../core/money.ts";
import { api, CliError, globals, print } from "../context.ts";

const formatRun = (r: any) => {
  const money = Object.entries(r.summary.money ?? {}).map(([c, a]) =>
    formatMoney({ amount: a as number, currency: c }),
  );
  const units = Object.entries(r.summary.units ?? {}).map(([u, a]) => `${a} ${u}`);
  const lines = [
    `${r.id}  ${r.status}  incident ${r.incident_id}  policy ${r.policy.id} v${r.policy.version}`,
    `  window [${r.window.start}, ${r.window.end})`,
    `  ${r.summary.lines} action(s): ${[...money, ...units].join(", ") || "nothing"}; ${r.summary.affected} affected, ${r.summary.excluded} excluded, ${r.summary.review} to review, ${r.summary.notifications} to notify`,
  ];
  if (r.applied)
    lines.push(
      `  applied: ${r.applied.entries} ledger entries, ${r.applied.skipped} already paid, ${r.applied.messages} messages queued`,
    );
  return lines.join("\n");
};
const formatLine = (l: any) =>
  `  ${l.customerId.padEnd(10)} ${l.key.padEnd(40)} ${l.kind === "unit_credit" ? `${l.amount} ${l.unit}` : formatMoney({ amount: l.amount, currency: l.currency })}  (${l.rule})`;

export async function preview(incidentArg: string | undefined, o: any) {
  const incidentId = o.incident ?? incidentArg;
  if (!incidentId) throw new CliError("error: which incident? give --incident ID");
  let policyRef = { policy: o.policy, ...(o.version && { policy_version: Number(o.version) }) };
  if (existsSync(o.policy)) {
    const saved = await api("POST", "/api/v1/policies", { yaml: readFileSync(o.policy, "utf8") });
    policyRef = { policy: saved.id, policy_version: saved.version };
  }
  const run = await api("POST", `/api/v1/incidents/${encodeURIComponent(incidentId)}/compensation-runs`, {
    ...policyRef,
    ...(o.asOf && { as_of: o.asOf }),
    ...(o.detectedAt && { detected_at: o.detectedAt }),
  });
  const doc =
    o.lines || globals().json ? await api("GET", `/api/v1/compensation-runs/${run.id}/preview`) : undefined;
  print(doc ?? run, () => [formatRun(run), ...(doc ? doc.lines.map(formatLine) : [])].join("\n"));
}

export async function show(runId: string, o: { lines?: boolean }) {
  const doc = await api("GET", `/api/v1/compensation-runs/${encodeURIComponent(runId)}/preview`);
  print(doc, () =>
    [
      formatRun(doc.run),
      ...(o.lines
        ? [
            ...doc.lines.map(formatLine),
            ...doc.excluded.map((e: any) => `  excluded ${e.customer_id} ${e.reference}: ${e.reason}`),
            ...(doc.excluded.length < doc.run.summary.excluded
              ? [
                  `  (the first ${EXCLUDED_SAMPLE} of each reason; ${doc.run.summary.excluded} excluded in all)`,
                ]
              : []),
            ...doc.review.map(
              (r: any) => `  review   ${r.customer_id} ${r.reference}: ${r.reason} (${r.detail})`,
            ),
          ]
        : []),
    ].join("\n"),
  );
}

export async function approve(runId: string) {
  const run = await api("POST", `/api/v1/compensation-runs/${encodeURIComponent(runId)}/approve`);
  print(run, () => formatRun(run));
}

export async function apply(runId: string) {
  const run = await api("POST", `/api/v1/compensation-runs/${encodeURIComponent(runId)}/apply`);
  print(run, () => formatRun(run));
}

export async function exportRun(
  runId: string,
  o: { out?: string; to: "csv" | "stripe"; unitPrice?: string[] },
) {
  const path = `/api/v1/compensation-runs/${encodeURIComponent(runId)}`;
  if (o.to === "stripe") {
    const unitPrices: Record<string, { amount: number; currency: string }> = {};
    for (const spec of o.unitPrice ?? []) {
      const m = /^([^=]+)=(\d+)([A-Z]{3})$/.exec(spec);
      if (!m)
        throw new CliError(
          `error: --unit-price ${spec}: write it as minutes=29EUR (minor units and currency)`,
        );
      unitPrices[m[1]!] = { amount: Number(m[2]), currency: m[3]! };
    }
    const res = await api("POST", `${path}/export/stripe`, { unit_prices: unitPrices });
    print(res, () =>
      [
        `Sent ${res.sent} to Stripe (${res.alreadySent} sent before).`,
        ...res.failed.map((f: any) => `  failed ${f.key}: ${f.error}`),
      ].join("\n"),
    );
    if (res.failed.length) process.exitCode = 1;
    return;
  }
  const text = await api("GET", `${path}/export.csv`);
  if (o.out) writeFileSync(o.out, text);
  else process.stdout.write(text);
}

export async function report(runId: string, o: { out?: string }) {
  const page = await api("GET", `/api/v1/compensation-runs/${encodeURIComponent(runId)}/report.html`);
  if (o.out) writeFileSync(o.out, page);
  else process.stdout.write(page);
}
