/** API tokens: scopes and expiry, the secret shown once, revoking. */
import { type FormEvent, useState } from "react";
import { del, get, post, type Session } from "../api.ts";
import { useI18n } from "../i18n.tsx";
import { ErrorBox, Field, fromLocalInput, Loading, Scroll, useAction, useLoad } from "../ui.tsx";

interface Token {
  id: string;
  name: string;
  scopes: string[];
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

/** The scopes the server accepts, read from its OpenAPI document so new ones appear by themselves. */
async function knownScopes(): Promise<string[]> {
  const doc = await fetch("/api/v1/openapi.json", { credentials: "same-origin" }).then((r) => r.json());
  const schema = doc?.paths?.["/api/v1/tokens"]?.post?.requestBody?.content?.["application/json"]?.schema;
  const list = schema?.properties?.scopes?.items?.enum;
  return Array.isArray(list) ? list : ["read", "*"];
}

export function TokensView(_: { session: Session }) {
  const { t, time } = useI18n();
  const tokens = useLoad(() => get<{ tokens: Token[] }>("/tokens").then((r) => r.tokens), []);
  const scopes = useLoad(knownScopes, []);
  const [name, setName] = useState("");
  const [chosen, setChosen] = useState<string[]>(["read"]);
  const [expires, setExpires] = useState("");
  const [secret, setSecret] = useState<string>();
  const action = useAction();

  const create = (e: FormEvent) => {
    e.preventDefault();
    action.run(async () => {
      const r = await post<Token & { secret: string }>("/tokens", {
        name,
        scopes: chosen,
        ...(expires && { expires_at: fromLocalInput(expires) }),
      });
      setSecret(r.secret);
      setName("");
      await tokens.reload();
    });
  };
  const revoke = (token: Token) =>
    action.run(async () => {
      await del(`/tokens/${encodeURIComponent(token.id)}`);
      await tokens.reload();
    });

  if (!tokens.data) return <Loading error={tokens.error} />;
  return (
    <>
      <h1>{t("nav.tokens")}</h1>
      <ErrorBox error={action.error} />
      {secret && (
        <p role="status" className="panel">
          {t("tokenShownOnce")} <code className="secret">{secret}</code>
        </p>
      )}
      <Scroll label={t("nav.tokens")}>
        <table>
          <thead>
            <tr>
              <th scope="col">{t("name")}</th>
              <th scope="col">{t("scopes")}</th>
              <th scope="col">{t("expires")}</th>
              <th scope="col">{t("lastUsed")}</th>
              <th scope="col">{t("status")}</th>
            </tr>
          </thead>
          <tbody>
            {tokens.data.map((tok) => (
              <tr key={tok.id}>
                <td>{tok.name}</td>
                <td>{tok.scopes.join(", ")}</td>
                <td>{time(tok.expires_at)}</td>
                <td>{time(tok.last_used_at)}</td>
                <td>
                  {tok.revoked_at ? (
                    t("revoked")
                  ) : (
                    <button type="button" onClick={() => revoke(tok)}>
                      {t("revoke")}
                      <span className="visually-hidden"> {tok.name}</span>
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Scroll>
      <section aria-labelledby="new-token" className="panel">
        <h2 id="new-token">{t("newToken")}</h2>
        <form onSubmit={create} className="stack">
          <div className="row">
            <Field label={t("name")}>
              {(id) => <input id={id} required value={name} onChange={(e) => setName(e.target.value)} />}
            </Field>
            <Field label={t("expires")} hint={t("etaHint")}>
              {(id) => (
                <input
                  id={id}
                  type="datetime-local"
                  value={expires}
                  onChange={(e) => setExpires(e.target.value)}
                />
              )}
            </Field>
          </div>
          <fieldset>
            <legend>{t("scopes")}</legend>
            {(scopes.data ?? []).map((s) => (
              <label key={s} className="inline">
                <input
                  type="checkbox"
                  checked={chosen.includes(s)}
                  onChange={(e) =>
                    setChosen(e.target.checked ? [...chosen, s] : chosen.filter((x) => x !== s))
                  }
                />{" "}
                <code>{s}</code>
              </label>
            ))}
          </fieldset>
          <button type="submit" className="primary" disabled={action.busy || chosen.length === 0}>
            {t("newToken")}
          </button>
        </form>
      </section>
    </>
  );
}
