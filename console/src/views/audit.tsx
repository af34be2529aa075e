/** The audit log: every change, who made it and when, with before and after; searchable, paged. */
import { type FormEvent, useState } from "react";
import { type AuditEntry, get, qs } from "../api.ts";
import { useI18n } from "../i18n.tsx";
import { ErrorBox, Field, fromLocalInput, Scroll, useAction } from "../ui.tsx";

interface Filters {
  q: string;
  actor: string;
  action: string;
  target: string;
  from: string;
  to: string;
}

export function AuditView() {
  const { t, time } = useI18n();
  const [filters, setFilters] = useState<Filters>({
    q: "",
    actor: "",
    action: "",
    target: "",
    from: "",
    to: "",
  });
  const [items, setItems] = useState<AuditEntry[]>();
  const [cursor, setCursor] = useState<string | null>(null);
  const action = useAction();

  const search = (more: boolean) =>
    action.run(async () => {
      const r = await get<{ items: AuditEntry[]; nextCursor: string | null }>(
        `/audit${qs({
          q: filters.q,
          actor: filters.actor,
          action: filters.action,
          target: filters.target,
          from: fromLocalInput(filters.from),
          to: fromLocalInput(filters.to),
          limit: 50,
          ...(more && cursor ? { cursor } : {}),
        })}`,
      );
      setItems(more ? [...(items ?? []), ...r.items] : r.items);
      setCursor(r.nextCursor ?? null);
    });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    search(false);
  };
  const set = (k: keyof Filters) => (e: { target: { value: string } }) =>
    setFilters({ ...filters, [k]: e.target.value });

  return (
    <>
      <h1>{t("nav.audit")}</h1>
      <search>
        <form onSubmit={submit} className="row">
          <Field label={t("searchText")}>
            {(id) => <input id={id} type="search" value={filters.q} onChange={set("q")} />}
          </Field>
          <Field label={t("actor")}>
            {(id) => <input id={id} value={filters.actor} onChange={set("actor")} />}
          </Field>
          <Field label={t("action")}>
            {(id) => <input id={id} value={filters.action} onChange={set("action")} />}
          </Field>
          <Field label={t("target")}>
            {(id) => <input id={id} value={filters.target} onChange={set("target")} />}
          </Field>
          <Field label={t("from")}>
            {(id) => <input id={id} type="datetime-local" value={filters.from} onChange={set("from")} />}
          </Field>
          <Field label={t("to")}>
            {(id) => <input id={id} type="datetime-local" value={filters.to} onChange={set("to")} />}
          </Field>
          <button type="submit" className="primary" disabled={action.busy}>
            {t("search")}
          </button>
        </form>
      </search>
      <ErrorBox error={action.error} />
      {items && (
        <Scroll label={t("nav.audit")}>
          <table className="audit">
            <caption>{t("auditCaption", { n: items.length })}</caption>
            <thead>
              <tr>
                <th scope="col">{t("when")}</th>
                <th scope="col">{t("actor")}</th>
                <th scope="col">{t("action")}</th>
                <th scope="col">{t("target")}</th>
                <th scope="col">{t("change")}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((e) => (
                <tr key={e.id}>
                  <td>
                    <time dateTime={e.at}>{time(e.at)}</time>
                  </td>
                  <td>
                    {e.actor.name} <small>({e.actor.kind})</small>
                  </td>
                  <td>{e.action}</td>
                  <td>
                    {e.target.type} {e.target.id}
                  </td>
                  <td>
                    <details>
                      <summary>{t("beforeAfter")}</summary>
                      <pre>{JSON.stringify({ before: e.before, after: e.after }, null, 2)}</pre>
                    </details>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </Scroll>
      )}
      {cursor && (
        <button type="button" onClick={() => search(true)} disabled={action.busy}>
          {t("more")}
        </button>
      )}
    </>
  );
}
