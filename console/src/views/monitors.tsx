/** Monitors with their state and latency over the last day (p50/p95 per hour, or raw checks). */
import { useState } from "react";
import { type CheckResult, get, getList, type Monitor, qs, type Session } from "../api.ts";
import { LineChart } from "../charts.tsx";
import { useI18n } from "../i18n.tsx";
import { Loading, StatusBadge, useLoad } from "../ui.tsx";

export function MonitorsView(_: { session: Session }) {
  const { t, time } = useI18n();
  const monitors = useLoad(() => getList<Monitor>("/monitors", "monitors"), [], 10_000);
  const [open, setOpen] = useState<string>();
  if (!monitors.data) return <Loading error={monitors.error} />;
  return (
    <>
      <h1>{t("nav.monitors")}</h1>
      {monitors.data.length === 0 && <p>{t("noMonitors")}</p>}
      <ul className="cards">
        {monitors.data.map((m) => (
          <li key={m.id} className="card">
            <div className="tree-row">
              <strong>{m.name}</strong> <StatusBadge status={m.state} />
              <small>
                {m.kind} · {m.target}
              </small>
            </div>
            <div>{t("lastCheck", { time: time(m.lastCheckAt), ms: m.lastLatencyMs ?? "—" })}</div>
            <button
              type="button"
              aria-expanded={open === m.id}
              onClick={() => setOpen(open === m.id ? undefined : m.id)}
            >
              {t("latency")}
              <span className="visually-hidden"> {m.name}</span>
            </button>
            {open === m.id && <Latency monitor={m} />}
          </li>
        ))}
      </ul>
    </>
  );
}

function Latency({ monitor }: { monitor: Monitor }) {
  const { t } = useI18n();
  const [resolution, setResolution] = useState<"raw" | "hour">("hour");
  const results = useLoad(
    () =>
      get<{ items: CheckResult[] }>(
        `/monitors/${encodeURIComponent(monitor.id)}/results${qs({
          from: new Date(Date.now() - 86_400_000).toISOString(),
          to: new Date().toISOString(),
          resolution,
        })}`,
      ).then((r) => r.items),
    [monitor.id, resolution],
  );
  const points = (results.data ?? []).map((r) =>
    resolution === "raw"
      ? { at: Date.parse(r.at), value: r.latencyMs ?? 0, failed: r.ok === false }
      : {
          at: Date.parse(r.at),
          value: r.latencyP50Ms ?? 0,
          high: r.latencyP95Ms,
          failed: (r.failures ?? 0) > 0,
        },
  );
  return (
    <div>
      <fieldset className="inline-group">
        <legend className="visually-hidden">{t("resolution")}</legend>
        {(["hour", "raw"] as const).map((r) => (
          <label key={r} className="inline">
            <input
              type="radio"
              name={`res-${monitor.id}`}
              checked={resolution === r}
              onChange={() => setResolution(r)}
            />{" "}
            {t(r === "hour" ? "perHour" : "everyCheck")}
          </label>
        ))}
      </fieldset>
      {!results.data ? (
        <Loading error={results.error} />
      ) : points.length === 0 ? (
        <p>{t("noResults")}</p>
      ) : (
        <LineChart title={t("latencyOf", { name: monitor.name })} points={points} unit="ms" />
      )}
    </div>
  );
}
