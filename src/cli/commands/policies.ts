/** `amends policy`: compensation policies (YAML, versioned). */
import { readFileSync } from "node:fs";
import { api, print } from "../context.ts";

export async function put(file: string) {
  const res = await api("POST", "/api/v1/policies", { yaml: readFileSync(file, "utf8") });
  print(res, () =>
    res.created
      ? `Saved ${res.id} version ${res.version}.`
      : `${res.id} version ${res.version} is unchanged.`,
  );
}

export async function list() {
  const res = await api("GET", "/api/v1/policies");
  print(
    res,
    () =>
      res.policies.map((p: any) => `${p.id}  v${p.version}  ${p.created_at}`).join("\n") || "No policies.",
  );
}

export async function show(id: string, o: { version?: string }) {
  const res = await api(
    "GET",
    `/api/v1/policies/${encodeURIComponent(id)}${o.version ? `?version=${o.version}` : ""}`,
  );
  print(res, () => `# ${res.id} v${res.version}\n${res.yaml}`);
}

export async function schema() {
  console.log(JSON.stringify(await api("GET", "/api/v1/policy-schema.json"), null, 2));
}
