/** The component tree editor: add, rename, move under another parent, set own status, delete. */
import { type FormEvent, useState } from "react";
import {
  COMPONENT_STATUSES,
  type Component,
  type ComponentStatus,
  del,
  get,
  patch,
  post,
  type Session,
} from "../api.ts";
import { can } from "../app.tsx";
import { useI18n } from "../i18n.tsx";
import { ErrorBox, Field, Loading, StatusBadge, useAction, useLoad } from "../ui.tsx";

export function ComponentsView({ session }: { session: Session }) {
  const { t } = useI18n();
  const list = useLoad(() => get<{ components: Component[] }>("/components").then((r) => r.components), []);
  const [editing, setEditing] = useState<string>();
  const action = useAction();
  const writable = can(session, "components:write");
  if (!list.data) return <Loading error={list.error} />;
  const components = list.data;

  const setStatus = (c: Component, status: ComponentStatus) =>
    action.run(async () => {
      await patch(`/components/${encodeURIComponent(c.id)}`, { status });
      await list.reload();
    });
  const remove = (c: Component) =>
    action.run(async () => {
      if (!confirm(t("confirmDelete", { name: c.name }))) return;
      await del(`/components/${encodeURIComponent(c.id)}`);
      await list.reload();
    });

  return (
    <>
      <h1>{t("nav.components")}</h1>
      <ErrorBox error={action.error} />
      <ul className="tree editor">
        {components.map((c) => (
          <li key={c.id} className={`depth-${Math.min(c.path.length - 1, 5)}`}>
            <div className="tree-row">
              <span className="tree-name">
                {c.name} <small>{c.id}</small>
                {c.effective_region && <small> · {c.effective_region}</small>}
              </span>
              <StatusBadge status={c.status} />
              {writable && (
                <>
                  <label className="inline">
                    <span className="visually-hidden">{t("ownStatusOf", { name: c.name })}</span>
                    <select
                      value={c.own_status}
                      onChange={(e) => setStatus(c, e.target.value as ComponentStatus)}
                    >
                      {COMPONENT_STATUSES.map((s) => (
                        <option key={s} value={s}>
                          {t(`status.${s}`)}
                        </option>
                      ))}
                    </select>
                  </label>
                  <button type="button" onClick={() => setEditing(editing === c.id ? undefined : c.id)}>
                    {t("edit")}
                    <span className="visually-hidden"> {c.name}</span>
                  </button>
                  <button type="button" onClick={() => remove(c)}>
                    {t("delete")}
                    <span className="visually-hidden"> {c.name}</span>
                  </button>
                </>
              )}
            </div>
            {editing === c.id && (
              <ComponentForm
                components={components}
                existing={c}
                onSaved={async () => {
                  setEditing(undefined);
                  await list.reload();
                }}
              />
            )}
          </li>
        ))}
      </ul>
      {writable && (
        <details className="panel">
          <summary>{t("addComponent")}</summary>
          <ComponentForm components={components} onSaved={list.reload} />
        </details>
      )}
    </>
  );
}

function ComponentForm(props: {
  components: Component[];
  existing?: Component;
  onSaved: () => Promise<void>;
}) {
  const { t } = useI18n();
  const e0 = props.existing;
  const [id, setId] = useState("");
  const [name, setName] = useState(e0?.name ?? "");
  const [parent, setParent] = useState(e0?.parent_id ?? "");
  const [region, setRegion] = useState(e0?.region ?? "");
  const action = useAction();
  // A component cannot move under itself or its own descendants.
  const parents = props.components.filter(
    (c) => !e0 || (c.id !== e0.id && !c.path.slice(0, -1).includes(e0.name)),
  );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    action.run(async () => {
      const body = { name, parent_id: parent || null, region: region || null };
      if (e0) await patch(`/components/${encodeURIComponent(e0.id)}`, body);
      else await post("/components", { ...(id && { id }), ...body });
      await props.onSaved();
      if (!e0) {
        setId("");
        setName("");
      }
    });
  };
  return (
    <form onSubmit={submit} className="row">
      {!e0 && (
        <Field label={t("id")} hint={t("idHint")}>
          {(fid) => <input id={fid} value={id} onChange={(e) => setId(e.target.value)} />}
        </Field>
      )}
      <Field label={t("name")}>
        {(fid) => <input id={fid} required value={name} onChange={(e) => setName(e.target.value)} />}
      </Field>
      <Field label={t("parent")}>
        {(fid) => (
          <select id={fid} value={parent} onChange={(e) => setParent(e.target.value)}>
            <option value="">{t("noParent")}</option>
            {parents.map((c) => (
              <option key={c.id} value={c.id}>
                {c.path.join(" › ")}
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field label={t("region")}>
        {(fid) => <input id={fid} value={region} onChange={(e) => setRegion(e.target.value)} />}
      </Field>
      <button type="submit" className="primary" disabled={action.busy}>
        {t("save")}
      </button>
      <ErrorBox error={action.error} />
    </form>
  );
}
