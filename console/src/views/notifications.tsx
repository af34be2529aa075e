/**
 * Subscribers and who an incident would reach: counts per channel (subscribers and affected
 * customers) with the SMS cost, before anything is sent; events waiting for a go-ahead.
 */
import { useState } from "react";
import {
  type Component,
  type Estimate,
  get,
  type NotificationEvent,
  post,
  type Session,
  type Subscriber,
} from "../api.ts";
import { can } from "../app.tsx";
import { useI18n } from "../i18n.tsx";
import { ComponentChecklist, ErrorBox, Loading, Scroll, StatusBadge, useAction, useLoad } from "../ui.tsx";
import { EstimateBox } from "./incident.tsx";

export function NotificationsView({ session }: { session: Session }) {
  const { t, time } = useI18n();
  const subscribers = useLoad(
    () => get<{ subscribers: Subscriber[] }>("/subscribers?limit=1000").then((r) => r.subscribers),
    [],
  );
  const events = useLoad(
    () => get<{ events: NotificationEvent[] }>("/notification-events").then((r) => r.events),
    [],
    5_000,
  );
  // Subscribers' choices by the names people read: components by name, cities as the page says them.
  const tree = useLoad(() => get<{ components: Component[] }>("/components").then((r) => r.components), []);
  const scopeOf = (s: Subscriber) => {
    if (s.incident_id) return t("followsIncident", { id: s.incident_id });
    const components = tree.data ?? [];
    const byId = new Map(components.map((c) => [c.id, c]));
    const cityName = (region: string) =>
      components.find((c) => c.region === region && byId.get(c.parent_id ?? "")?.region !== region)?.name ??
      region;
    const names = [
      ...s.components.map((id) => byId.get(id)?.path.join(" › ") ?? id),
      ...s.regions.map(cityName),
    ];
    return names.join(", ") || t("everything");
  };
  const confirmAction = useAction();
  const confirmEvent = (e: NotificationEvent) =>
    confirmAction.run(async () => {
      await post(`/notification-events/${encodeURIComponent(e.id)}/confirm`);
      await events.reload();
    });

  const active = subscribers.data?.filter((s) => s.confirmed_at && !s.unsubscribed_at) ?? [];
  const byChannel = active.reduce<Record<string, number>>((acc, s) => {
    acc[s.channel] = (acc[s.channel] ?? 0) + 1;
    return acc;
  }, {});

  return (
    <>
      <h1>{t("nav.notifications")}</h1>
      <ReachEstimate />
      <section aria-labelledby="events-heading">
        <h2 id="events-heading">{t("events")}</h2>
        <ErrorBox error={confirmAction.error} />
        {!events.data ? (
          <Loading error={events.error} />
        ) : events.data.length === 0 ? (
          <p>{t("noEvents")}</p>
        ) : (
          <ul className="cards">
            {events.data.map((e) => (
              <li key={e.id} className="card">
                <strong>{e.event}</strong> <StatusBadge status={e.status} />{" "}
                <small>{time(e.created_at)}</small>
                {e.incident_id && <div>{e.incident_id}</div>}
                {e.progress.length > 0 && (
                  <div>{e.progress.map((p) => `${p.channel} ${p.status}: ${p.n}`).join(" · ")}</div>
                )}
                {e.status === "awaiting_confirmation" && (
                  <>
                    {e.estimate && <EstimateBox estimate={e.estimate} />}
                    {can(session, "notifications:write") && (
                      <button type="button" className="primary" onClick={() => confirmEvent(e)}>
                        {t("confirmSend")}
                      </button>
                    )}
                  </>
                )}
              </li>
            ))}
          </ul>
        )}
      </section>
      <section aria-labelledby="subscribers-heading">
        <h2 id="subscribers-heading">{t("subscribers")}</h2>
        {!subscribers.data ? (
          <Loading error={subscribers.error} />
        ) : (
          <>
            <p>
              {t("subscriberCounts", { active: active.length, all: subscribers.data.length })}{" "}
              {Object.entries(byChannel)
                .map(([c, n]) => `${c}: ${n}`)
                .join(" · ")}
            </p>
            <Scroll label={t("subscribers")}>
              <table>
                <caption className="visually-hidden">{t("subscribers")}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t("channel")}</th>
                    <th scope="col">{t("address")}</th>
                    <th scope="col">{t("language")}</th>
                    <th scope="col">{t("scope")}</th>
                    <th scope="col">{t("status")}</th>
                  </tr>
                </thead>
                <tbody>
                  {subscribers.data.slice(0, 200).map((s) => (
                    <tr key={s.id}>
                      <td>{s.channel}</td>
                      <td>{s.address}</td>
                      <td>{s.locale}</td>
                      <td>{scopeOf(s)}</td>
                      <td>
                        <StatusBadge
                          status={
                            s.unsubscribed_at ? "unsubscribed" : s.confirmed_at ? "confirmed" : "unconfirmed"
                          }
                        />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </Scroll>
          </>
        )}
      </section>
    </>
  );
}

function ReachEstimate() {
  const { t } = useI18n();
  const components = useLoad(
    () => get<{ components: Component[] }>("/components").then((r) => r.components),
    [],
  );
  const [chosen, setChosen] = useState<string[]>([]);
  const [estimate, setEstimate] = useState<Estimate>();
  const action = useAction();
  const run = () =>
    action.run(async () =>
      setEstimate(await post<Estimate>("/notification-estimate", { components: chosen })),
    );
  return (
    <section aria-labelledby="reach-heading" className="panel">
      <h2 id="reach-heading">{t("whoWouldHear")}</h2>
      <ComponentChecklist components={components.data} chosen={chosen} onChange={setChosen} />
      <button type="button" onClick={run} disabled={action.busy}>
        {t("estimate")}
      </button>
      <ErrorBox error={action.error} />
      {estimate && <EstimateBox estimate={estimate} />}
    </section>
  );
}
