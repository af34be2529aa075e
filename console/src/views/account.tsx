/** Your own account: the TOTP second factor and the password. */
import { type FormEvent, useState } from "react";
import { get, post, type Session } from "../api.ts";
import { useI18n } from "../i18n.tsx";
import { ErrorBox, Field, useAction } from "../ui.tsx";

export function AccountView({ session, onSession }: { session: Session; onSession: (s: Session) => void }) {
  const { t } = useI18n();
  const [enrolment, setEnrolment] = useState<{ secret: string; otpauthUrl: string }>();
  const [code, setCode] = useState("");
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [saved, setSaved] = useState("");
  const action = useAction();

  const start = () => action.run(async () => setEnrolment(await post("/me/totp")));
  const confirm = (e: FormEvent) => {
    e.preventDefault();
    action.run(async () => {
      await post("/me/totp/confirm", { code });
      setEnrolment(undefined);
      setSaved(t("totpEnabled"));
      onSession(await get<Session>("/session"));
    });
  };
  const changePassword = (e: FormEvent) => {
    e.preventDefault();
    action.run(async () => {
      await post("/me/password", { current, next });
      setCurrent("");
      setNext("");
      setSaved(t("passwordChanged"));
    });
  };

  return (
    <section>
      <h1>{t("nav.account")}</h1>
      <p>
        {session.user.name} · {session.user.email}
      </p>
      {saved && <p role="status">{saved}</p>}
      <ErrorBox error={action.error} />
      <h2>{t("totpTitle")}</h2>
      {session.user.totpEnabled ? (
        <p className="ok">{t("totpEnabled")}</p>
      ) : enrolment ? (
        <form onSubmit={confirm} className="stack narrow">
          <p>{t("totpScan")}</p>
          <p>
            <code className="secret" data-testid="totp-secret">
              {enrolment.secret}
            </code>
          </p>
          <p>
            <a href={enrolment.otpauthUrl}>{t("totpOpenApp")}</a>
          </p>
          <Field label={t("totpCode")}>
            {(id) => (
              <input
                id={id}
                inputMode="numeric"
                autoComplete="one-time-code"
                pattern="[0-9]{6}"
                required
                value={code}
                onChange={(e) => setCode(e.target.value.trim())}
              />
            )}
          </Field>
          <button type="submit" className="primary" disabled={action.busy}>
            {t("totpConfirm")}
          </button>
        </form>
      ) : (
        <button type="button" className="primary" onClick={start} disabled={action.busy}>
          {t("totpStart")}
        </button>
      )}
      <h2>{t("changePassword")}</h2>
      <form onSubmit={changePassword} className="stack narrow">
        <Field label={t("password")}>
          {(id) => (
            <input
              id={id}
              type="password"
              autoComplete="current-password"
              required
              value={current}
              onChange={(e) => setCurrent(e.target.value)}
            />
          )}
        </Field>
        <Field label={t("newPassword")} hint={t("passwordHint")}>
          {(id) => (
            <input
              id={id}
              type="password"
              autoComplete="new-password"
              minLength={12}
              required
              value={next}
              onChange={(e) => setNext(e.target.value)}
            />
          )}
        </Field>
        <button type="submit" disabled={action.busy}>
          {t("changePassword")}
        </button>
      </form>
    </section>
  );
}
