/**
 * Monitors with their state and latency over the last day (p50/p95 per hour, or raw checks);
 * signal monitors with what they observed against what they expected; alert integrations with
 * the alerts they received, firing first.
 */
import { useState } from "react";
import {
  type AlertIntegration,
  type CheckResult,
  get,
  getList,
  type Monitor,
  qs,
  type ReceivedAlert,
  type Session,
  type SignalPoint,
} from "../api.ts";
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
                {m.kind}
                {m.target && ` · ${m.target}`}
              </small>
            </div>
            {m.kind !== "signal" && (
              <div>{t("lastCheck", { time: time(m.lastCheckAt), ms: m.lastLatencyMs ?? "—" })}</div>
            )}
            <button
              type="button"
              aria-expanded={open === m.id}
              onClick={() => setOpen(open === m.id ? undefined : m.id)}
            >
              {t(m.kind === "signal" ? "observedExpected" : "latency")}
              <span className="visually-hidden"> {m.name}</span>
            </button>
            {open === m.id && (m.kind === "signal" ? <Signal monitor={m} /> : <Latency monitor={m} />)}
          </li>
        ))}
      </ul>
      <Integrations />
    </>
  );
}

function Signal({ monitor }: { monitor: Monitor }) {
  const { t } = useI18n();
  const series = useLoad(
    () =>
      get<{ windowMinutes: number; measure: "events" | "customers"; items: SignalPoint[] }>(
        `/monitors/${encodeURIComponent(monitor.id)}/signal${qs({ points: 96 })}`,
      ),
    [monitor.id],
  );
  if (!series.data) return <Loading error={series.error} />;
  const { items, windowMinutes, measure } = series.data;
  const last = items.at(-1);
  const round = (n: number) => Math.round(n * 10) / 10;
  return (
    <div>
      {last && <p>{t("signalNow", { observed: last.observed, expected: round(last.expected) })}</p>}
      <LineChart
        title={t("signalOf", {
          name: monitor.name,
          measure: t(measure === "events" ? "measureEvents" : "measureCustomers"),
          minutes: windowMinutes,
        })}
        points={items.map((p) => ({
          at: Date.parse(p.at),
          value: p.observed,
          high: round(p.expected),
          failed: p.verdict === "failing",
        }))}
        unit=""
      />
    </div>
  );
}

function Integrations() {
  const { t } = useI18n();
  const list = useLoad(
    () => getList<AlertIntegration>("/alert-integrations", "alert integrations"),
    [],
    10_000,
  );
  const [open, setOpen] = useState<string>();
  if (!list.data) return <Loading error={list.error} />;
  return (
    <>
      <h2>{t("alertIntegrations")}</h2>
      {list.data.length === 0 && <p>{t("noIntegrations")}</p>}
      <ul className="cards">
        {list.data.map((i) => (
          <li key={i.id} className="card">
            <div className="tree-row">
              <strong>{i.name}</strong> <StatusBadge status={i.state} />
              <small>
                {i.tool} · {i.onFailure}
              </small>
            </div>
            <div>
              {t("webhookUrl")}: <code>{i.webhookUrl}</code>
            </div>
            {i.failingComponents.length > 0 && (
              <div>
                {t("firingComponents", { list: i.failingComponents.map((c) => c.componentId).join(", ") })}
              </div>
            )}
            <button
              type="button"
              aria-expanded={open === i.id}
              onClick={() => setOpen(open === i.id ? undefined : i.id)}
            >
              {t("alertsReceived")}
              <span className="visually-hidden"> {i.name}</span>
            </button>
            {open === i.id && <Received integration={i} />}
          </li>
        ))}
      </ul>
    </>
  );
}

function Received({ integration }: { integration: AlertIntegration }) {
  const { t, time } = useI18n();
  const received = useLoad(
    () =>
      get<{ alerts: ReceivedAlert[] }>(
        `/alert-integrations/${encodeURIComponent(integration.id)}/alerts`,
      ).then((r) => r.alerts),
    [integration.id],
    10_000,
  );
  if (!received.data) return <Loading error={received.error} />;
  if (received.data.length === 0) return <p>{t("noAlerts")}</p>;
  return (
    <ul className="plain">
      {received.data.map((a) => (
        <li key={a.fingerprint}>
          <StatusBadge status={a.status} /> {a.summary}{" "}
          <small>
            {a.components === null ? t("unmapped") : a.components.map((c) => c.componentId).join(", ")} ·{" "}
            {time(a.updatedAt)}
          </small>
        </li>
      ))}
    </ul>
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
