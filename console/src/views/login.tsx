/** Signing in (password, then the TOTP code when the account has one), first run and invites. */
import { type FormEvent, useEffect, useRef, useState } from "react";
import { ApiError, post, type Session } from "../api.ts";
import { useI18n } from "../i18n.tsx";
import { navigate } from "../router.tsx";
import { ErrorBox, Field, useAction } from "../ui.tsx";

export function LoginView({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const { t } = useI18n();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [totp, setTotp] = useState("");
  const [needsTotp, setNeedsTotp] = useState(false);
  const totpInput = useRef<HTMLInputElement>(null);
  const action = useAction();

  useEffect(() => {
    if (needsTotp) totpInput.current?.focus();
  }, [needsTotp]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    action.setError(undefined);
    try {
      const s = await post<Session>("/session", { email, password, ...(needsTotp && { totp }) });
      onSignedIn(s);
    } catch (err) {
      if (err instanceof ApiError && err.field("totp") !== undefined && !needsTotp) setNeedsTotp(true);
      else action.setError(err);
    }
  };

  return (
    <section className="narrow">
      <h1>{t("signIn")}</h1>
      <form onSubmit={submit} className="stack">
        <Field label={t("email")}>
          {(id) => (
            <input
              id={id}
              type="email"
              autoComplete="username"
              required
              value={email}
              onChange={(e) => setEmail(e.target.value)}
            />
          )}
        </Field>
        <Field label={t("password")}>
          {(id) => (
            <input
              id={id}
              type="password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          )}
        </Field>
        {needsTotp && (
          <Field label={t("totpCode")} hint={t("totpHint")}>
            {(id) => (
              <input
                id={id}
                ref={totpInput}
                inputMode="numeric"
                autoComplete="one-time-code"
                pattern="[0-9]{6}"
                required
                value={totp}
                onChange={(e) => setTotp(e.target.value.trim())}
              />
            )}
          </Field>
        )}
        <ErrorBox error={action.error} />
        <button type="submit" className="primary">
          {t("signIn")}
        </button>
      </form>
    </section>
  );
}

/** First run (the owner account, from the link `npm start` printed) or accepting an invitation. */
export function SetupView(props: { token: string; invite: boolean; onDone: (s: Session) => void }) {
  const { t } = useI18n();
  const [email, setEmail] = useState("");
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [done, setDone] = useState(false);
  const action = useAction();

  const submit = (e: FormEvent) => {
    e.preventDefault();
    action.run(async () => {
      if (props.invite) {
        await post("/invites/accept", { token: props.token, password });
        setDone(true);
        return;
      }
      const created = await post<Partial<Session> | undefined>("/setup", {
        token: props.token,
        email,
        name,
        password,
      });
      // The server may sign the new owner in at once; otherwise sign in with what was just typed.
      const s =
        created?.csrfToken && created.user
          ? (created as Session)
          : await post<Session>("/session", { email, password });
      props.onDone(s);
      // Where responders look first; two-step sign-in is one click away, under My account.
      navigate("/");
    });
  };

  if (done)
    return (
      <section className="narrow">
        <p role="status">{t("inviteAccepted")}</p>
        <button type="button" onClick={() => navigate("/")}>
          {t("signIn")}
        </button>
      </section>
    );
  return (
    <section className="narrow">
      <h1>{props.invite ? t("acceptInvite") : t("setupTitle")}</h1>
      {!props.invite && <p>{t("setupIntro")}</p>}
      <form onSubmit={submit} className="stack">
        {!props.invite && (
          <>
            <Field label={t("name")}>
              {(id) => <input id={id} required value={name} onChange={(e) => setName(e.target.value)} />}
            </Field>
            <Field label={t("email")}>
              {(id) => (
                <input
                  id={id}
                  type="email"
                  autoComplete="username"
                  required
                  value={email}
                  onChange={(e) => setEmail(e.target.value)}
                />
              )}
            </Field>
          </>
        )}
        <Field label={t("newPassword")} hint={t("passwordHint")}>
          {(id) => (
            <input
              id={id}
              type="password"
              autoComplete="new-password"
              minLength={12}
              required
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          )}
        </Field>
        <ErrorBox error={action.error} />
        <button type="submit" className="primary" disabled={action.busy || !props.token}>
          {props.invite ? t("acceptInvite") : t("createOwner")}
        </button>
      </form>
    </section>
  );
}
