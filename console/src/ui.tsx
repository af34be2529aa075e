/** Small shared pieces: loading data, showing errors, status badges, form fields. */
import { type ReactNode, useCallback, useEffect, useId, useRef, useState } from "react";
import { ApiError, COMPONENT_STATUSES, type ComponentStatus } from "./api.ts";
import { useI18n } from "./i18n.tsx";

/** Loads on mount and whenever deps change; `reload` fetches again; `every` polls (ms). */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[], every?: number) {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>();
  // The caller names what the loader depends on; the latest loader is always the one called.
  const loader = useRef(load);
  loader.current = load;
  const key = JSON.stringify(deps);
  const reload = useCallback(async () => {
    try {
      setData(await loader.current());
      setError(undefined);
    } catch (e) {
      setError(e);
    }
  }, []);
  useEffect(() => {
    void key;
    reload();
    if (!every) return;
    const timer = setInterval(reload, every);
    return () => clearInterval(timer);
  }, [reload, every, key]);
  return { data, error, reload, setData };
}

export function ErrorBox({ error }: { error: unknown }) {
  const { t } = useI18n();
  if (!error) return null;
  const message =
    error instanceof ApiError
      ? `${error.message}${error.errors.length ? `: ${error.errors.map((e) => `${e.field} ${e.message}`).join("; ")}` : ""}`
      : error instanceof Error
        ? error.message
        : String(error);
  return (
    <p className="error" role="alert">
      {t("error")}: {message}
    </p>
  );
}

export function Loading({ error }: { error?: unknown }) {
  const { t } = useI18n();
  return error ? <ErrorBox error={error} /> : <p aria-busy="true">{t("loading")}</p>;
}

export function StatusBadge({ status }: { status: string }) {
  const { t } = useI18n();
  const label = t(`status.${status}`);
  return <span className={`badge badge-${status}`}>{label.startsWith("status.") ? status : label}</span>;
}

/**
 * The promised next update. Once its time has passed while the incident is open, it is flagged
 * in words and with a sign, not by colour alone: responders owe the public a word.
 */
export function NextUpdate({ by, open }: { by: string; open: boolean }) {
  const { t, time } = useI18n();
  if (!open || Date.parse(by) > Date.now()) return <>{t("nextUpdateBy", { time: time(by) })}</>;
  return (
    <strong className="overdue">
      <span aria-hidden="true">⚠ </span>
      {t("nextUpdateOverdue", { time: time(by) })}
    </strong>
  );
}

/**
 * A labelled field. Its hint and its error (the API's message for this field, shown beside it)
 * are tied to the input by the second argument, the ids for aria-describedby.
 */
export function Field(props: {
  label: string;
  children: (id: string, describedBy?: string) => ReactNode;
  hint?: string;
  error?: string;
  className?: string;
}) {
  const id = useId();
  const describedBy =
    [props.error && `${id}-error`, props.hint && `${id}-hint`].filter(Boolean).join(" ") || undefined;
  return (
    <div className={`field ${props.className ?? ""}`}>
      <label htmlFor={id}>{props.label}</label>
      {props.children(id, describedBy)}
      {props.hint && <small id={`${id}-hint`}>{props.hint}</small>}
      {props.error && (
        <small className="error" id={`${id}-error`}>
          {props.error}
        </small>
      )}
    </div>
  );
}

/** Runs an action, remembering that it is busy and what went wrong. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const run = useCallback(async <T,>(action: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setError(undefined);
    try {
      return await action();
    } catch (e) {
      setError(e);
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, run, setError };
}

/** datetime-local value (the browser's zone) ↔ ISO instant. */
export const toLocalInput = (d: Date) =>
  new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
export const fromLocalInput = (v: string) => (v ? new Date(v).toISOString() : undefined);

/** A wide table that scrolls sideways on a phone; focusable so the keyboard can scroll it too. */
export function Scroll({ label, children }: { label: string; children: ReactNode }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard (WCAG 2.1.1)
    <section className="scroll" aria-label={label} tabIndex={0}>
      {children}
    </section>
  );
}

/** A labelled choice of a component's status. */
export function StatusSelect(props: {
  label: string;
  value: ComponentStatus;
  onChange: (status: ComponentStatus) => void;
}) {
  const { t } = useI18n();
  return (
    <Field label={props.label}>
      {(id) => (
        <select
          id={id}
          value={props.value}
          onChange={(e) => props.onChange(e.target.value as ComponentStatus)}
        >
          {COMPONENT_STATUSES.map((s) => (
            <option key={s} value={s}>
              {t(`status.${s}`)}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

/** Components to tick, each by its path in the tree. */
export function ComponentChecklist(props: {
  components: { id: string; path: string[] }[] | undefined;
  chosen: string[];
  onChange: (chosen: string[]) => void;
}) {
  const { t } = useI18n();
  const { chosen, onChange } = props;
  return (
    <fieldset>
      <legend>{t("affectedComponents")}</legend>
      <div className="component-grid">
        {props.components?.map((c) => (
          <label key={c.id} className="inline">
            <input
              type="checkbox"
              checked={chosen.includes(c.id)}
              onChange={(e) =>
                onChange(e.target.checked ? [...chosen, c.id] : chosen.filter((x) => x !== c.id))
              }
            />{" "}
            {c.path.join(" › ")}
          </label>
        ))}
      </div>
    </fieldset>
  );
}
