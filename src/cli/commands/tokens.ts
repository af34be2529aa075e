/** `amends token`: API tokens. */
import { api, print } from "../context.ts";
import { parseWhen } from "../format.ts";

export async function create(o: { name: string; scope?: string[]; expiresIn?: string }) {
  const res = await api("POST", "/api/v1/tokens", {
    name: o.name,
    ...(o.scope && { scopes: o.scope }),
    ...(o.expiresIn && { expires_at: parseWhen(o.expiresIn, new Date()) }),
  });
  print(
    res,
    () => `${res.secret}\n(token ${res.id}, scopes ${res.scopes.join(" ")}; shown once, keep it safe)`,
  );
}

export async function list() {
  const res = await api("GET", "/api/v1/tokens");
  print(res, () =>
    res.tokens
      .map((t: any) => `${t.id}  ${t.name}  ${t.scopes.join(" ")}${t.revoked_at ? "  (revoked)" : ""}`)
      .join("\n"),
  );
}

export async function revoke(id: string) {
  const res = await api("DELETE", `/api/v1/tokens/${encodeURIComponent(id)}`);
  print(res, () => `Revoked ${res.id}.`);
}
