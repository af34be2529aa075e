/** `amends component`: the status page's component tree. */
import { api, print } from "../context.ts";
import { formatComponents } from "../format.ts";

export async function list() {
  const res = await api("GET", "/api/v1/components");
  print(res, () => formatComponents(res.components));
}

export async function create(o: { name: string; id?: string; parent?: string; region?: string }) {
  const res = await api("POST", "/api/v1/components", {
    name: o.name,
    ...(o.id && { id: o.id }),
    ...(o.parent && { parent_id: o.parent }),
    ...(o.region && { region: o.region }),
  });
  print(res, () => `Created ${res.id} (${res.path.join(" › ")}).`);
}
