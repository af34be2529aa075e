/**
 * What `amends serve` does once per empty database, however many servers start on it together:
 * load the demo (when asked) and make the one-time link that creates the owner. Both happen
 * under one cluster-wide lock, so the first server does them and the others find them done.
 */
import { and, eq, gt, isNull } from "drizzle-orm";
import { countUsers, createOneTimeToken } from "../access/users.ts";
import { type DemoLoaded, loadDemo } from "../demo/load.ts";
import type { Database } from "../storage/database.ts";
import { oneTimeTokens } from "../storage/schema.ts";
import { defaultWorkspace } from "../workspaces/store.ts";

/** Arbitrary constant shared by every Amends process starting on the same database. */
const FIRST_RUN_LOCK = 7_311_002_018;
/** Servers starting within this long of a first-run link are taken to be starting together. */
const STARTED_TOGETHER_MS = 60_000;

export interface FirstRun {
  demo?: DemoLoaded;
  /**
   * The owner link's token when this start made it; "elsewhere" when a server starting
   * alongside made it (and printed it) a moment ago; undefined once there are users.
   */
  setupToken?: string | "elsewhere";
}

export async function firstRun(database: Database, options: { demo: boolean }, now: Date): Promise<FirstRun> {
  return database.exclusively(FIRST_RUN_LOCK, async () => {
    const result: FirstRun = {};
    if (options.demo && !(await defaultWorkspace(database.db))) result.demo = await loadDemo(database, now);
    if ((await countUsers(database.db)) > 0) return result;
    const [recent] = await database.db
      .select({ createdAt: oneTimeTokens.createdAt })
      .from(oneTimeTokens)
      .where(
        and(
          eq(oneTimeTokens.kind, "setup"),
          isNull(oneTimeTokens.usedAt),
          gt(oneTimeTokens.createdAt, new Date(now.getTime() - STARTED_TOGETHER_MS)),
        ),
      )
      .limit(1);
    if (recent) return { ...result, setupToken: "elsewhere" };
    // Without a workspace yet, the owner's setup creates it (access/routes.ts).
    const ws = await defaultWorkspace(database.db);
    result.setupToken = await createOneTimeToken(database.db, { kind: "setup", workspaceId: ws?.id }, now);
    return result;
  });
}
