/** `amends incident`: open, update, resolve and list incidents, and the letter after one. */
import { api, print } from "../context.ts";
import { formatIncident, parseComponent, parseWhen, waits } from "../format.ts";

const timing = (o: { eta?: string; nextUpdate?: string }) => ({
  ...(o.eta && { eta: parseWhen(o.eta, new Date()) }),
  ...(o.nextUpdate && { next_update_by: parseWhen(o.nextUpdate, new Date()) }),
});

export async function open(o: any) {
  const res = await api("POST", "/api/v1/incidents", {
    title: o.title,
    body: o.body,
    ...(o.id && { id: o.id }),
    ...(o.impact && { impact: o.impact }),
    ...(o.status && { status: o.status }),
    ...(o.component && { components: o.component.map(parseComponent) }),
    ...timing(o),
  });
  print(res, () => `Opened\n${formatIncident(res)}${waits(res)}`);
}

export async function update(id: string, o: any) {
  const res = await api("POST", `/api/v1/incidents/${encodeURIComponent(id)}/updates`, {
    body: o.body,
    ...(o.status && { status: o.status }),
    ...(o.component && { components: o.component.map(parseComponent) }),
    ...timing(o),
  });
  print(res, () => `Updated\n${formatIncident(res)}${waits(res)}`);
}

export async function resolve(id: string, o: { body?: string }) {
  const res = await api(
    "POST",
    `/api/v1/incidents/${encodeURIComponent(id)}/resolve`,
    o.body ? { body: o.body } : {},
  );
  print(res, () => `Resolved\n${formatIncident(res)}${waits(res)}`);
}

/** The letter after an incident, as text: each section under its heading. */
const formatLetter = (r: { status: string; sections: Record<string, string>; url: string }) =>
  [
    `${r.status} · ${r.url}`,
    ...["what_happened", "what_we_did", "what_now", "what_we_change"].map(
      (k) => `\n## ${k.replaceAll("_", " ")}\n${r.sections[k] || "(to write)"}`,
    ),
  ].join("\n");

export async function report(id: string, o: { draft?: boolean; whatWeChange?: string; publish?: boolean }) {
  const path = `/api/v1/incidents/${encodeURIComponent(id)}/postmortem`;
  let res = o.draft ? await api("POST", path) : undefined;
  if (o.whatWeChange) res = await api("PATCH", path, { sections: { what_we_change: o.whatWeChange } });
  if (o.publish) res = await api("POST", `${path}/publish`);
  res ??= await api("GET", path);
  print(
    res,
    () => `${formatLetter(res)}${o.publish ? `\n\nQueued for ${res.messages_queued} customers.` : ""}`,
  );
}

export async function list(o: { state: string }) {
  const res = await api("GET", `/api/v1/incidents?state=${o.state}`);
  print(res, () =>
    res.incidents.length ? res.incidents.map((i: any) => formatIncident(i)).join("\n") : "No incidents.",
  );
}

export async function show(id: string) {
  const res = await api("GET", `/api/v1/incidents/${encodeURIComponent(id)}`);
  print(res, () => formatIncident(res, true));
}
