/** `amends monitor` and `amends probe`: monitors on components, and checking them from another region. */
import { api, CliError, globals, print } from "../context.ts";

export async function list() {
  const res = await api("GET", "/api/v1/monitors");
  print(
    res,
    () =>
      res.items
        .map(
          (m: {
            id: string;
            kind: string;
            state: string;
            name: string;
            target: string;
            lastLatencyMs: number | null;
          }) =>
            `${m.id.padEnd(24)} ${m.kind.padEnd(9)} ${m.state.padEnd(8)} ${m.name}  ${m.target}${m.lastLatencyMs !== null ? `  ${m.lastLatencyMs} ms` : ""}`,
        )
        .join("\n") || "No monitors.",
  );
}

export async function results(id: string, o: { resolution: string }) {
  const res = await api(
    "GET",
    `/api/v1/monitors/${encodeURIComponent(id)}/results?resolution=${o.resolution}`,
  );
  print(res, () =>
    res.items
      .map((r: any) =>
        o.resolution === "raw"
          ? `${r.at}  ${r.ok ? "ok  " : "FAIL"}  ${r.latencyMs ?? "-"} ms  ${r.location}${r.error ? `  ${r.error}` : ""}`
          : `${r.at}  ${r.checks} checks, ${r.failures} failed, p50 ${r.latencyP50Ms ?? "-"} ms, p95 ${r.latencyP95Ms ?? "-"} ms`,
      )
      .join("\n"),
  );
}

export async function probe(o: { sourceAddress?: string }) {
  const g = globals();
  const url = g.url ?? process.env.AMENDS_URL;
  const token = g.token ?? process.env.AMENDS_PROBE_TOKEN ?? process.env.AMENDS_TOKEN;
  if (!url || !token) throw new CliError("error: a probe needs --url SERVER and --token PROBE_TOKEN");
  const { runProbe } = await import("../../monitors/probe.ts");
  const running = await runProbe({
    url,
    token,
    sourceAddress: o.sourceAddress ?? process.env.AMENDS_PROBE_SOURCE_ADDRESS,
    refreshMs: Number(process.env.AMENDS_PROBE_REFRESH_MS ?? 15_000),
    flushMs: Number(process.env.AMENDS_PROBE_FLUSH_MS ?? 1_000),
    log: (line) => console.log(line),
  });
  console.log("Press Ctrl+C to stop.");
  const stop = async () => {
    await running.stop();
    process.exit(0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
