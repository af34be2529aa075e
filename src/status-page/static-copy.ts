/**
 * A static copy of the whole public page: HTML in every language, the Statuspage JSON, feeds,
 * badge, widget and the brand's images, as plain files a CDN or any web server can serve while Amends is down.
 * It reads the same public documents the server sends, so the copy is exactly the page. Written
 * to a folder by `amends export-static`, or published to object storage (s3-publish.ts).
 */
import { join } from "node:path";
import { LOCALES } from "../i18n/catalog.ts";
import { localePath } from "./render-html.ts";

/** The public documents besides the HTML pages, each at a fixed path. */
export const PUBLIC_DOCUMENTS = [
  "/api/v2/summary.json",
  "/api/v2/status.json",
  "/api/v2/components.json",
  "/api/v2/incidents.json",
  "/api/v2/incidents/unresolved.json",
  "/api/v2/scheduled-maintenances.json",
  "/api/v2/scheduled-maintenances/upcoming.json",
  "/api/v2/scheduled-maintenances/active.json",
  "/history.rss",
  "/history.atom",
  "/maintenance.ics",
  "/badge.svg",
  "/widget.js",
];

/** `/` → index.html, `/it/incidents/X` → it/incidents/X/index.html, files keep their names. */
const fileFor = (dir: string, path: string) =>
  join(dir, path.endsWith("/") ? `${path}index.html` : /\.[a-z]+$/.test(path) ? path : `${path}/index.html`);

/** One file of the static copy: its path on the page, its file name under the copy, its bytes. */
export interface StaticFile {
  path: string;
  /** relative file name, e.g. it/incidents/X/index.html */
  key: string;
  body: Buffer;
  type: string;
}

export type RawGet = (path: string) => Promise<{ status: number; body: Buffer; type: string }>;

/** Every document of the public page, as the server sends it. */
export async function collectStatic(raw: RawGet): Promise<StaticFile[]> {
  const incidents = await raw("/api/v2/incidents.json");
  if (incidents.status !== 200) throw new Error(`the page is not available (${incidents.status})`);
  const ids: string[] = JSON.parse(incidents.body.toString()).incidents.map((i: { id: string }) => i.id);
  const pages = LOCALES.flatMap((l) => [
    localePath(l, "/"),
    ...ids.map((id) => localePath(l, `/incidents/${encodeURIComponent(id)}`)),
  ]);
  // Post-incident reports exist for some incidents only: a 404 there is no error.
  const reports = LOCALES.flatMap((l) =>
    ids.map((id) => localePath(l, `/incidents/${encodeURIComponent(id)}/report`)),
  );
  const files: StaticFile[] = [];
  for (const path of [...pages, ...PUBLIC_DOCUMENTS, ...reports]) {
    const res = await raw(path);
    if (res.status === 404 && reports.includes(path)) continue;
    if (res.status !== 200) throw new Error(`${path} answered ${res.status}`);
    files.push({ path, key: fileFor("", path).replace(/^\//, ""), body: res.body, type: res.type });
  }
  // The brand's logo and favicon, as the front page links them.
  const front = files.find((f) => f.path === "/")!.body.toString();
  for (const path of new Set(front.match(/\/brand\/[a-z]+-[0-9a-f]+\.[a-z]+/g))) {
    const res = await raw(path);
    if (res.status !== 200) throw new Error(`${path} answered ${res.status}`);
    files.push({ path, key: path.slice(1), body: res.body, type: res.type });
  }
  return files;
}
