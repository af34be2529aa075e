/** The workspace's access settings: for now, the four-eyes threshold on compensation runs. */
import { eq } from "drizzle-orm";
import type { Db } from "../storage/database.ts";
import { workspaces } from "../storage/schema.ts";

export async function fourEyesThreshold(db: Db, workspaceId: string): Promise<Record<string, number>> {
  const [row] = await db
    .select({ t: workspaces.fourEyesAbove })
    .from(workspaces)
    .where(eq(workspaces.id, workspaceId));
  return row?.t ?? {};
}

export async function setFourEyesThreshold(
  db: Db,
  workspaceId: string,
  threshold: Record<string, number>,
): Promise<void> {
  await db.update(workspaces).set({ fourEyesAbove: threshold }).where(eq(workspaces.id, workspaceId));
}
