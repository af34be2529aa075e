/** People in the workspace: their roles, inviting someone, disabling an account. */
import { type FormEvent, useState } from "react";
import { getList, patch, post, type Session, type User } from "../api.ts";
import { useI18n } from "../i18n.tsx";
import type { Key } from "../messages.ts";
import { ErrorBox, Field, Loading, Scroll, useAction, useLoad } from "../ui.tsx";

export const ROLES = ["owner", "admin", "responder", "support", "finance", "viewer"] as const;

export function UsersView({ session }: { session: Session }) {
  const { t } = useI18n();
  const users = useLoad(() => getList<User>("/users", "users"), []);
  const action = useAction();
  const change = (u: User, body: Partial<User>) =>
    action.run(async () => {
      await patch(`/users/${encodeURIComponent(u.id)}`, body);
      await users.reload();
    });
  if (!users.data) return <Loading error={users.error} />;
  return (
    <>
      <h1>{t("nav.users")}</h1>
      <ErrorBox error={action.error} />
      <Scroll label={t("nav.users")}>
        <table>
          <caption className="visually-hidden">{t("nav.users")}</caption>
          <thead>
            <tr>
              <th scope="col">{t("name")}</th>
              <th scope="col">{t("email")}</th>
              <th scope="col">{t("role")}</th>
              <th scope="col">{t("totpTitle")}</th>
              <th scope="col">{t("status")}</th>
            </tr>
          </thead>
          <tbody>
            {users.data.map((u) => (
              <tr key={u.id}>
                <td>{u.name}</td>
                <td>{u.email}</td>
                <td>
                  <label className="inline">
                    <span className="visually-hidden">{t("roleOf", { name: u.name })}</span>
                    <select
                      value={u.role}
                      disabled={u.id === session.user.id}
                      onChange={(e) => change(u, { role: e.target.value })}
                    >
                      {ROLES.map((r) => (
                        <option key={r} value={r}>
                          {t(`role.${r}` as Key)}
                        </option>
                      ))}
                    </select>
                  </label>
                </td>
                <td>{u.totpEnabled ? "✓" : "—"}</td>
                <td>
                  {u.id !== session.user.id && (
                    <button type="button" onClick={() => change(u, { disabled: !u.disabled })}>
                      {u.disabled ? t("enable") : t("disable")}
                      <span className="visually-hidden"> {u.name}</span>
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Scroll>
      <InviteForm onSaved={users.reload} />
    </>
  );
}

function InviteForm({ onSaved }: { onSaved: () => Promise<void> }) {
  const { t } = useI18n();
  const [email, setEmail] = useState("");
  const [name, setName] = useState("");
  const [role, setRole] = useState<string>("responder");
  const [inviteUrl, setInviteUrl] = useState<string>();
  const action = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    action.run(async () => {
      const r = await post<{ inviteUrl?: string }>("/users", { email, name, role });
      setInviteUrl(r?.inviteUrl ? new URL(r.inviteUrl, location.origin).toString() : undefined);
      setEmail("");
      setName("");
      await onSaved();
    });
  };
  return (
    <section aria-labelledby="invite-heading" className="panel">
      <h2 id="invite-heading">{t("invite")}</h2>
      <form onSubmit={submit} className="row">
        <Field label={t("name")}>
          {(id) => <input id={id} required value={name} onChange={(e) => setName(e.target.value)} />}
        </Field>
        <Field label={t("email")}>
          {(id) => (
            <input id={id} type="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
          )}
        </Field>
        <Field label={t("role")}>
          {(id) => (
            <select id={id} value={role} onChange={(e) => setRole(e.target.value)}>
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {t(`role.${r}` as Key)}
                </option>
              ))}
            </select>
          )}
        </Field>
        <button type="submit" className="primary" disabled={action.busy}>
          {t("invite")}
        </button>
      </form>
      <ErrorBox error={action.error} />
      {inviteUrl && (
        <p role="status">
          {t("inviteLink")} <code className="secret">{inviteUrl}</code>
        </p>
      )}
    </section>
  );
}
