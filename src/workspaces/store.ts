import { asc, eq } from "drizzle-orm";
import { AmendsError } from "../core/errors.ts";
import { newId } from "../lib/ids.ts";
import type { Db } from "../storage/database.ts";
import { workspaces } from "../storage/schema.ts";

export type Workspace = typeof workspaces.$inferSelect;

export async function createWorkspace(
  db: Db,
  input: { slug: string; name: string; timeZone?: string; publicUrl?: string | null; id?: string },
): Promise<Workspace> {
  const [row] = await db
    .insert(workspaces)
    .values({
      id: input.id ?? newId("ws"),
      slug: input.slug,
      name: input.name,
      timeZone: input.timeZone ?? "UTC",
      publicUrl: input.publicUrl ?? null,
    })
    .returning();
  return row!;
}

export async function findWorkspace(db: Db, slugOrId: string): Promise<Workspace | undefined> {
  const rows = await db.select().from(workspaces).where(eq(workspaces.slug, slugOrId));
  if (rows[0]) return rows[0];
  return (await db.select().from(workspaces).where(eq(workspaces.id, slugOrId)))[0];
}

/** The workspace the public page shows when the request names none: the first one created. */
export async function defaultWorkspace(db: Db): Promise<Workspace | undefined> {
  return (
    await db.select().from(workspaces).orderBy(asc(workspaces.createdAt), asc(workspaces.id)).limit(1)
  )[0];
}

export async function requireWorkspace(db: Db, slugOrId?: string): Promise<Workspace> {
  const ws = slugOrId ? await findWorkspace(db, slugOrId) : await defaultWorkspace(db);
  if (!ws) {
    throw new AmendsError(
      "NOT_FOUND",
      slugOrId
        ? `no workspace "${slugOrId}"`
        : "there is no workspace yet: run `amends demo` or `amends workspace create`",
    );
  }
  return ws;
}
