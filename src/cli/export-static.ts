/** `amends export-static`: the public page's static copy (status-page/static-copy.ts) as files. */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { collectStatic } from "../status-page/static-copy.ts";
import type { ApiClient } from "./client.ts";

export async function exportStatic(client: ApiClient, dir: string): Promise<string[]> {
  const written: string[] = [];
  for (const f of await collectStatic((path) => client.raw(path))) {
    const file = join(dir, f.key);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, f.body);
    written.push(file);
  }
  return written;
}
