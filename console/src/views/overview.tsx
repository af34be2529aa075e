/**
 * The live overview: open incidents and the component tree, refreshed every few seconds, and
 * the one-button start of an emergency protocol.
 */
import { useState } from "react";
import {
  type Component,
  type Estimate,
  get,
  getList,
  type Incident,
  type Protocol,
  post,
  type Session,
} from "../api.ts";
import { can } from "../app.tsx";
import { useI18n } from "../i18n.tsx";
import { Link, navigate } from "../router.tsx";
import { ErrorBox, Loading, NextUpdate, StatusBadge, useAction, useLoad } from "../ui.tsx";
import { NewIncidentForm } from "./incident.tsx";

const REFRESH_MS = 5_000;

export function OverviewView({ session }: { session: Session }) {
  const { t, time } = useI18n();
  const incidents = useLoad(
    () => get<{ incidents: Incident[] }>("/incidents?state=open").then((r) => r.incidents),
    [],
    REFRESH_MS,
  );
  const components = useLoad(
    () => get<{ components: Component[] }>("/components").then((r) => r.components),
    [],
    REFRESH_MS,
  );
  return (
    <>
      <h1>{t("nav.overview")}</h1>
      {can(session, "protocols:start") && <Protocols />}
      <section aria-labelledby="open-incidents">
        <h2 id="open-incidents">{t("openIncidents")}</h2>
        {!incidents.data ? (
          <Loading error={incidents.error} />
        ) : incidents.data.length === 0 ? (
          <p className="ok">{t("noOpenIncidents")}</p>
        ) : (
          <ul className="cards" aria-live="polite">
            {incidents.data.map((i) => (
              <li key={i.id} className={`card impact-${i.impact}`}>
                <Link to={`/incidents/${encodeURIComponent(i.id)}`}>{i.title}</Link>
                <div>
                  <StatusBadge status={i.status} /> · {t("startedAt", { time: time(i.started_at) })}
                </div>
                {i.next_update_by && (
                  <div>
                    <NextUpdate by={i.next_update_by} open={i.status !== "resolved"} />
                  </div>
                )}
              </li>
            ))}
          </ul>
        )}
        {can(session, "incidents:write") && components.data && (
          <details className="panel">
            <summary>{t("openIncident")}</summary>
            <NewIncidentForm components={components.data} />
          </details>
        )}
      </section>
      <section aria-labelledby="components-heading">
        <h2 id="components-heading">{t("nav.components")}</h2>
        {!components.data ? (
          <Loading error={components.error} />
        ) : (
          <ul className="tree">
            {components.data.map((c) => (
              <li key={c.id} className={`depth-${Math.min(c.path.length - 1, 5)}`}>
                <span>{c.name}</span> <StatusBadge status={c.status} />
              </li>
            ))}
          </ul>
        )}
      </section>
    </>
  );
}

function Protocols() {
  const { t } = useI18n();
  const protocols = useLoad(() => getList<Protocol>("/protocols", "protocols"), []);
  const action = useAction();
  const [started, setStarted] = useState<{ incident: Incident; estimate?: Estimate }>();

  const start = (name: string) =>
    action.run(async () => {
      const r = await post<{ incident: Incident; estimate?: Estimate }>(
        `/protocols/${encodeURIComponent(name)}/start`,
        {},
      );
      setStarted(r);
      // The incident page shows who the protocol told (the estimate comes with the start only).
      if (r.estimate) sessionStorage.setItem(`amends.estimate.${r.incident.id}`, JSON.stringify(r.estimate));
      navigate(`/incidents/${encodeURIComponent(r.incident.id)}`);
    });

  if (!protocols.data) return protocols.error ? <ErrorBox error={protocols.error} /> : null;
  if (protocols.data.length === 0) return null;
  return (
    <section aria-labelledby="protocols-heading" className="panel">
      <h2 id="protocols-heading">{t("protocols")}</h2>
      <p>{t("protocolsIntro")}</p>
      <ul className="buttons">
        {protocols.data.map((p) => (
          <li key={p.name}>
            <button type="button" className="danger" disabled={action.busy} onClick={() => start(p.name)}>
              {t("startProtocol", { name: p.title ?? p.name })}
            </button>
            {p.description && <small>{p.description}</small>}
          </li>
        ))}
      </ul>
      {started && <p role="status">{started.incident.title}</p>}
      <ErrorBox error={action.error} />
    </section>
  );
}
