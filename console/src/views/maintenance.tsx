/** The maintenance calendar: a month of windows, scheduling a new one, completing or cancelling. */
import { type FormEvent, useState } from "react";
import { type Component, get, type Maintenance, post, type Session } from "../api.ts";
import { can } from "../app.tsx";
import { useI18n } from "../i18n.tsx";
import {
  ComponentChecklist,
  ErrorBox,
  Field,
  fromLocalInput,
  Loading,
  Scroll,
  StatusBadge,
  useAction,
  useLoad,
} from "../ui.tsx";

const DAY = 86_400_000;

function startOfMonth(d: Date) {
  return new Date(d.getFullYear(), d.getMonth(), 1);
}

export function MaintenanceView({ session }: { session: Session }) {
  const { t, time, locale } = useI18n();
  const list = useLoad(
    () => get<{ maintenances: Maintenance[] }>("/maintenances").then((r) => r.maintenances),
    [],
  );
  const [month, setMonth] = useState(() => startOfMonth(new Date()));
  const action = useAction();
  if (!list.data) return <Loading error={list.error} />;
  const windows = list.data;
  const writable = can(session, "incidents:write");

  // Weeks start on Monday; the grid covers the whole weeks around the month.
  const first = new Date(month);
  const offset = (first.getDay() + 6) % 7;
  const gridStart = new Date(first.getFullYear(), first.getMonth(), 1 - offset);
  const days = Array.from(
    { length: 42 },
    (_, i) => new Date(gridStart.getFullYear(), gridStart.getMonth(), gridStart.getDate() + i),
  );
  const weekdays = days
    .slice(0, 7)
    .map((d) => new Intl.DateTimeFormat(locale, { weekday: "short" }).format(d));
  const on = (d: Date) =>
    windows.filter((w) => Date.parse(w.starts_at) < d.getTime() + DAY && Date.parse(w.ends_at) > d.getTime());
  const close = (w: Maintenance, how: "complete" | "cancel") =>
    action.run(async () => {
      await post(`/maintenances/${encodeURIComponent(w.id)}/${how}`);
      await list.reload();
    });
  const monthName = new Intl.DateTimeFormat(locale, { month: "long", year: "numeric" }).format(month);

  return (
    <>
      <h1>{t("nav.maintenance")}</h1>
      <div className="calendar-nav">
        <button
          type="button"
          onClick={() => setMonth(new Date(month.getFullYear(), month.getMonth() - 1, 1))}
        >
          ‹ <span className="visually-hidden">{t("previousMonth")}</span>
        </button>
        <h2 aria-live="polite">{monthName}</h2>
        <button
          type="button"
          onClick={() => setMonth(new Date(month.getFullYear(), month.getMonth() + 1, 1))}
        >
          <span className="visually-hidden">{t("nextMonth")}</span> ›
        </button>
      </div>
      <Scroll label={monthName}>
        <table className="calendar">
          <caption className="visually-hidden">{monthName}</caption>
          <thead>
            <tr>
              {weekdays.map((w) => (
                <th scope="col" key={w}>
                  {w}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {[0, 1, 2, 3, 4, 5].map((week) => (
              <tr key={week}>
                {days.slice(week * 7, week * 7 + 7).map((d) => (
                  <td
                    key={d.toISOString()}
                    className={d.getMonth() === month.getMonth() ? "" : "other-month"}
                  >
                    <span className="day">{d.getDate()}</span>
                    {on(d).map((w) => (
                      <span key={w.id} className={`cal-item badge-${w.status}`}>
                        {w.title}
                      </span>
                    ))}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </Scroll>
      <h2>{t("windows")}</h2>
      <ErrorBox error={action.error} />
      <ul className="cards">
        {windows.map((w) => (
          <li key={w.id} className="card">
            <strong>{w.title}</strong> <StatusBadge status={w.status} />
            <div>
              {time(w.starts_at)} – {time(w.ends_at)}
            </div>
            {writable && (w.status === "in_progress" || w.status === "overran") && (
              <button type="button" onClick={() => close(w, "complete")}>
                {t("complete")}
              </button>
            )}
            {writable && w.status === "scheduled" && (
              <button type="button" onClick={() => close(w, "cancel")}>
                {t("cancel")}
              </button>
            )}
          </li>
        ))}
      </ul>
      {writable && <ScheduleForm onSaved={list.reload} />}
    </>
  );
}

function ScheduleForm({ onSaved }: { onSaved: () => Promise<void> }) {
  const { t } = useI18n();
  const components = useLoad(
    () => get<{ components: Component[] }>("/components").then((r) => r.components),
    [],
  );
  const [title, setTitle] = useState("");
  const [body, setBody] = useState("");
  const [starts, setStarts] = useState("");
  const [ends, setEnds] = useState("");
  const [chosen, setChosen] = useState<string[]>([]);
  const action = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    action.run(async () => {
      await post("/maintenances", {
        title,
        body,
        components: chosen,
        starts_at: fromLocalInput(starts),
        ends_at: fromLocalInput(ends),
      });
      setTitle("");
      setBody("");
      await onSaved();
    });
  };
  return (
    <details className="panel">
      <summary>{t("scheduleMaintenance")}</summary>
      <form onSubmit={submit} className="stack">
        <Field label={t("title")}>
          {(id) => <input id={id} required value={title} onChange={(e) => setTitle(e.target.value)} />}
        </Field>
        <Field label={t("message")}>
          {(id) => (
            <textarea id={id} required rows={3} value={body} onChange={(e) => setBody(e.target.value)} />
          )}
        </Field>
        <div className="row">
          <Field label={t("startsAt")}>
            {(id) => (
              <input
                id={id}
                type="datetime-local"
                required
                value={starts}
                onChange={(e) => setStarts(e.target.value)}
              />
            )}
          </Field>
          <Field label={t("endsAt")}>
            {(id) => (
              <input
                id={id}
                type="datetime-local"
                required
                value={ends}
                onChange={(e) => setEnds(e.target.value)}
              />
            )}
          </Field>
        </div>
        <ComponentChecklist components={components.data} chosen={chosen} onChange={setChosen} />
        <ErrorBox error={action.error} />
        <button type="submit" className="primary" disabled={action.busy}>
          {t("schedule")}
        </button>
      </form>
    </details>
  );
}
