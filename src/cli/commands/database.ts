/** Commands that open the database files themselves: `migrate`, `demo`, `workspace create`. */
import { databaseTarget } from "../../config.ts";
import { loadDemo } from "../../demo/load.ts";
import { describeTarget } from "../../storage/database.ts";
import { createWorkspace } from "../../workspaces/store.ts";
import { print, settings, withDatabase } from "../context.ts";

export async function migrate() {
  await withDatabase(async () => {});
  console.log(`Migrated ${describeTarget(databaseTarget(settings()))}.`);
}

export async function demo() {
  const loaded = await withDatabase((db) => loadDemo(db, new Date()));
  print({ workspace: loaded.workspace.slug, token: loaded.token, ...loaded.counts }, () =>
    [
      `Loaded "${loaded.workspace.name}" (${loaded.workspace.slug}): ${loaded.counts.customers} customers, ${loaded.counts.sessions} rentals.`,
      `API token (shown once): ${loaded.token}`,
    ].join("\n"),
  );
}

export async function createWorkspaceCommand(o: { name: string; slug: string; timeZone: string }) {
  const ws = await withDatabase((db) => createWorkspace(db.db, o));
  print(ws, () => `Created workspace ${ws.slug} (${ws.id}).`);
}
