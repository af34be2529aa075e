/**
 * One incident: its timeline, posting an update (status, ETA, next-update promise, the text in
 * several languages side by side), resolving, and previewing compensation. Also the form that
 * opens a new incident, with the notification estimate before anything is sent.
 */
import { type FormEvent, useState } from "react";
import {
  type Component,
  type ComponentStatus,
  type Estimate,
  get,
  INCIDENT_STATUSES,
  type Incident,
  type Policy,
  post,
  type Run,
  type Session,
} from "../api.ts";
import { can } from "../app.tsx";
import { LOCALE_NAMES, LOCALES, type Locale, useI18n } from "../i18n.tsx";
import { navigate } from "../router.tsx";
import {
  ErrorBox,
  Field,
  fromLocalInput,
  Loading,
  NextUpdate,
  StatusBadge,
  StatusSelect,
  useAction,
  useLoad,
} from "../ui.tsx";

type Texts = Partial<Record<Locale, { title?: string; body: string }>>;

/** The text of an update in each language, side by side; English is the fallback and required. */
function TextsEditor(props: { value: Texts; onChange: (v: Texts) => void; withTitle: boolean }) {
  const { t } = useI18n();
  const [shown, setShown] = useState<Locale[]>(["en", "it"]);
  const set = (l: Locale, field: "title" | "body", text: string) =>
    props.onChange({ ...props.value, [l]: { body: "", ...props.value[l], [field]: text } });
  return (
    <fieldset className="texts">
      <legend>{t("textsInLanguages")}</legend>
      <div className="lang-toggles">
        {LOCALES.filter((l) => l !== "en").map((l) => (
          <label key={l} className="inline">
            <input
              type="checkbox"
              checked={shown.includes(l)}
              onChange={(e) => setShown(e.target.checked ? [...shown, l] : shown.filter((s) => s !== l))}
            />{" "}
            {LOCALE_NAMES[l]}
          </label>
        ))}
      </div>
      <div className="side-by-side">
        {LOCALES.filter((l) => shown.includes(l) || l === "en").map((l) => (
          <div key={l} className="lang-column" lang={l}>
            <h3>{LOCALE_NAMES[l]}</h3>
            {props.withTitle && (
              <Field label={`${t("title")} (${l})`}>
                {(id) => (
                  <input
                    id={id}
                    required={l === "en"}
                    value={props.value[l]?.title ?? ""}
                    onChange={(e) => set(l, "title", e.target.value)}
                  />
                )}
              </Field>
            )}
            <Field label={`${t("message")} (${l})`}>
              {(id) => (
                <textarea
                  id={id}
                  rows={4}
                  required={l === "en"}
                  value={props.value[l]?.body ?? ""}
                  onChange={(e) => set(l, "body", e.target.value)}
                />
              )}
            </Field>
          </div>
        ))}
      </div>
    </fieldset>
  );
}

const translationsOf = (texts: Texts) =>
  Object.fromEntries(
    Object.entries(texts)
      .filter(([l, v]) => l !== "en" && (v?.body || v?.title))
      .map(([l, v]) => [l, { ...(v?.title && { title: v.title }), ...(v?.body && { body: v.body }) }]),
  );

function WhenFields(props: {
  eta: string;
  next: string;
  onEta: (v: string) => void;
  onNext: (v: string) => void;
}) {
  const { t } = useI18n();
  return (
    <div className="row">
      <Field label={t("eta")} hint={t("etaHint")}>
        {(id) => (
          <input
            id={id}
            type="datetime-local"
            value={props.eta}
            onChange={(e) => props.onEta(e.target.value)}
          />
        )}
      </Field>
      <Field label={t("nextUpdate")} hint={t("nextUpdateHint")}>
        {(id) => (
          <input
            id={id}
            type="datetime-local"
            value={props.next}
            onChange={(e) => props.onNext(e.target.value)}
          />
        )}
      </Field>
    </div>
  );
}

/** Who a message would reach and what its SMS would cost, per channel. */
export function EstimateBox({ estimate }: { estimate: Estimate }) {
  const { t, money } = useI18n();
  return (
    <div className="estimate" role="status">
      <p>
        <strong>{t("estimateReach", { n: estimate.total })}</strong>
      </p>
      <table>
        <caption>{t("estimateByChannel")}</caption>
        <thead>
          <tr>
            <th scope="col">{t("channel")}</th>
            <th scope="col" className="num">
              {t("recipients")}
            </th>
          </tr>
        </thead>
        <tbody>
          {Object.entries(estimate.recipients).map(([channel, n]) => (
            <tr key={channel}>
              <td>{channel}</td>
              <td className="num">{n}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p>
        {t("smsCost", {
          messages: estimate.sms.messages,
          segments: estimate.sms.segments,
          cost: estimate.sms.cost.map((c) => money(c.amount, c.currency)).join(" + ") || "0",
        })}
      </p>
      {estimate.needsConfirmation && <p className="warn">{t("needsConfirmation")}</p>}
    </div>
  );
}

export function NewIncidentForm({ components }: { components: Component[] }) {
  const { t } = useI18n();
  const [texts, setTexts] = useState<Texts>({});
  const [affected, setAffected] = useState<Record<string, ComponentStatus>>({});
  const [eta, setEta] = useState("");
  const [next, setNext] = useState("");
  const [estimate, setEstimate] = useState<Estimate>();
  const action = useAction();
  const chosen = Object.entries(affected).filter(([, s]) => s !== "operational");

  const estimateReach = () =>
    action.run(async () =>
      setEstimate(
        await post<Estimate>("/notification-estimate", {
          components: chosen.map(([id]) => id),
          title: texts.en?.title || "Service disruption",
          body: texts.en?.body ?? "",
        }),
      ),
    );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    action.run(async () => {
      const incident = await post<Incident>("/incidents", {
        title: texts.en?.title ?? "",
        body: texts.en?.body ?? "",
        components: chosen.map(([id, status]) => ({ id, status })),
        ...(eta && { eta: fromLocalInput(eta) }),
        ...(next && { next_update_by: fromLocalInput(next) }),
        translations: translationsOf(texts),
      });
      navigate(`/incidents/${encodeURIComponent(incident.id)}`);
    });
  };

  return (
    <form onSubmit={submit} className="stack">
      <TextsEditor value={texts} onChange={setTexts} withTitle />
      <fieldset>
        <legend>{t("affectedComponents")}</legend>
        <div className="component-grid">
          {components.map((c) => (
            <StatusSelect
              key={c.id}
              label={c.path.join(" › ")}
              value={affected[c.id] ?? "operational"}
              onChange={(status) => setAffected({ ...affected, [c.id]: status })}
            />
          ))}
        </div>
      </fieldset>
      <WhenFields eta={eta} next={next} onEta={setEta} onNext={setNext} />
      {estimate && <EstimateBox estimate={estimate} />}
      <ErrorBox error={action.error} />
      <div className="buttons">
        <button type="button" onClick={estimateReach} disabled={action.busy}>
          {t("estimate")}
        </button>
        <button type="submit" className="primary" disabled={action.busy}>
          {t("openIncident")}
        </button>
      </div>
    </form>
  );
}

export function IncidentView({ id, session }: { id: string; session: Session }) {
  const { t, time } = useI18n();
  const incident = useLoad(() => get<Incident>(`/incidents/${encodeURIComponent(id)}`), [id], 10_000);
  const components = useLoad(
    () => get<{ components: Component[] }>("/components").then((r) => r.components),
    [],
  );
  const [startEstimate] = useState<Estimate | undefined>(() => {
    const saved = sessionStorage.getItem(`amends.estimate.${id}`);
    return saved ? (JSON.parse(saved) as Estimate) : undefined;
  });
  const i = incident.data;
  if (!i) return <Loading error={incident.error} />;
  const nameOf = (cid: string) => components.data?.find((c) => c.id === cid)?.path.join(" › ") ?? cid;
  return (
    <>
      <h1>{i.title}</h1>
      <p>
        <StatusBadge status={i.status} /> · {t("startedAt", { time: time(i.started_at) })}
        {i.eta && <> · {t("etaAt", { time: time(i.eta) })}</>}
        {i.next_update_by && (
          <>
            {" · "}
            <NextUpdate by={i.next_update_by} open={i.status !== "resolved"} />
          </>
        )}
      </p>
      <ul className="affected">
        {i.components.map((c) => (
          <li key={c.id}>
            {nameOf(c.id)} <StatusBadge status={c.status} />
          </li>
        ))}
      </ul>
      {i.status !== "resolved" && <AffectedByCity incidentId={i.id} />}
      {startEstimate && (
        <details className="panel">
          <summary>{t("protocolReach")}</summary>
          <EstimateBox estimate={startEstimate} />
        </details>
      )}
      {i.status !== "resolved" && can(session, "incidents:write") && (
        <UpdateForm incident={i} nameOf={nameOf} onPosted={incident.setData} />
      )}
      <h2>{t("timeline")}</h2>
      <ol className="timeline" reversed>
        {[...i.updates].reverse().map((u) => (
          <li key={u.id}>
            <div>
              <StatusBadge status={u.status} /> <time dateTime={u.created_at}>{time(u.created_at)}</time>
            </div>
            <div className="side-by-side">
              <p lang="en">{u.body}</p>
              {Object.entries(u.body_translations).map(([l, text]) => (
                <p key={l} lang={l}>
                  <span className="lang-tag">{l}</span> {text}
                </p>
              ))}
            </div>
          </li>
        ))}
      </ol>
      {can(session, "compensation:write") && <PreviewLauncher incidentId={i.id} />}
    </>
  );
}

/** While the incident is open: how many customers it touches so far, per city or region. */
function AffectedByCity({ incidentId }: { incidentId: string }) {
  const { t } = useI18n();
  const affected = useLoad(
    () =>
      get<{ customers: number; regions: { region: string; name: string | null; customers: number }[] }>(
        `/incidents/${encodeURIComponent(incidentId)}/affected`,
      ),
    [incidentId],
    30_000,
  );
  const a = affected.data;
  if (!a) return null;
  return (
    <p className="affected-count">
      {t("affectedNow", { n: a.customers })}
      {a.regions.length > 0 && (
        <> ({a.regions.map((r) => `${r.name ?? r.region} ${r.customers}`).join(", ")})</>
      )}
    </p>
  );
}

function UpdateForm({
  incident,
  nameOf,
  onPosted,
}: {
  incident: Incident;
  nameOf: (id: string) => string;
  onPosted: (i: Incident) => void;
}) {
  const { t } = useI18n();
  const [status, setStatus] = useState(incident.status);
  // Only changed components are sent: the others keep their status.
  const [changed, setChanged] = useState<Record<string, ComponentStatus>>({});
  const [texts, setTexts] = useState<Texts>({});
  const [eta, setEta] = useState("");
  const [next, setNext] = useState("");
  const action = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    action.run(async () => {
      const url = `/incidents/${encodeURIComponent(incident.id)}`;
      const updated =
        status === "resolved"
          ? await post<Incident>(`${url}/resolve`, { body: texts.en?.body || undefined })
          : await post<Incident>(`${url}/updates`, {
              status,
              body: texts.en?.body ?? "",
              ...(eta && { eta: fromLocalInput(eta) }),
              ...(next && { next_update_by: fromLocalInput(next) }),
              ...(Object.keys(changed).length > 0 && {
                components: Object.entries(changed).map(([id, s]) => ({ id, status: s })),
              }),
              translations: translationsOf(texts),
            });
      onPosted(updated);
      setTexts({});
      setChanged({});
    });
  };
  return (
    <details className="panel" open>
      <summary>{t("postUpdate")}</summary>
      <form onSubmit={submit} className="stack">
        <Field label={t("status")}>
          {(id) => (
            <select id={id} value={status} onChange={(e) => setStatus(e.target.value)}>
              {INCIDENT_STATUSES.map((s) => (
                <option key={s} value={s}>
                  {t(`status.${s}`)}
                </option>
              ))}
            </select>
          )}
        </Field>
        <TextsEditor value={texts} onChange={setTexts} withTitle={false} />
        {status !== "resolved" && incident.components.length > 0 && (
          <fieldset>
            <legend>{t("affectedComponents")}</legend>
            <div className="component-grid">
              {incident.components.map((c) => (
                <StatusSelect
                  key={c.id}
                  label={nameOf(c.id)}
                  value={changed[c.id] ?? c.status}
                  onChange={(status) => setChanged({ ...changed, [c.id]: status })}
                />
              ))}
            </div>
          </fieldset>
        )}
        <WhenFields eta={eta} next={next} onEta={setEta} onNext={setNext} />
        <ErrorBox error={action.error} />
        <button type="submit" className="primary" disabled={action.busy}>
          {t("postUpdate")}
        </button>
      </form>
    </details>
  );
}

function PreviewLauncher({ incidentId }: { incidentId: string }) {
  const { t } = useI18n();
  const policies = useLoad(() => get<{ policies: Policy[] }>("/policies").then((r) => r.policies), []);
  const [policy, setPolicy] = useState("");
  const action = useAction();
  if (!policies.data?.length) return null;
  const chosen = policy || policies.data[0]!.id;
  const preview = (e: FormEvent) => {
    e.preventDefault();
    action.run(async () => {
      const run = await post<Run>(`/incidents/${encodeURIComponent(incidentId)}/compensation-runs`, {
        policy: chosen,
      });
      navigate(`/compensation/${encodeURIComponent(run.id)}`);
    });
  };
  return (
    <section aria-labelledby="compensate-heading" className="panel">
      <h2 id="compensate-heading">{t("compensate")}</h2>
      <form onSubmit={preview} className="row">
        <Field label={t("policy")}>
          {(id) => (
            <select id={id} value={chosen} onChange={(e) => setPolicy(e.target.value)}>
              {[...new Set(policies.data!.map((p) => p.id))].map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          )}
        </Field>
        <button type="submit" className="primary" disabled={action.busy}>
          {t("previewCompensation")}
        </button>
      </form>
      <ErrorBox error={action.error} />
    </section>
  );
}
