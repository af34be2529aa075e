/** Policies are saved as YAML, versioned: saving changed text makes a new version. */
import { and, desc, eq } from "drizzle-orm";
import type { Policy } from "../core/compensation/policy.ts";
import { conflict, invalidField, notFound } from "../core/errors.ts";
import { ID_PATTERN } from "../lib/ids.ts";
import type { Db } from "../storage/database.ts";
import { policies } from "../storage/schema.ts";
import { parsePolicyYaml } from "./policy-yaml.ts";

export interface StoredPolicy {
  id: string;
  version: number;
  yaml: string;
  policy: Policy;
  createdAt: Date;
  createdBy: string | null;
}

export async function savePolicy(
  db: Db,
  workspaceId: string,
  yaml: string,
  actor: string | null,
  now: Date,
): Promise<StoredPolicy & { created: boolean }> {
  const policy = parsePolicyYaml(yaml);
  if (!ID_PATTERN.test(policy.policy))
    throw invalidField("policy", "the policy's name is its id: use letters, digits, '.', '_', ':' or '-'");
  return db.transaction(async (tx) => {
    const [latest] = await tx
      .select()
      .from(policies)
      .where(and(eq(policies.workspaceId, workspaceId), eq(policies.id, policy.policy)))
      .orderBy(desc(policies.version))
      .limit(1);
    if (latest && latest.yaml === yaml) return { ...latest, policy, created: false };
    const version = (latest?.version ?? 0) + 1;
    try {
      const [row] = await tx
        .insert(policies)
        .values({ workspaceId, id: policy.policy, version, yaml, createdAt: now, createdBy: actor })
        .returning();
      return { ...row!, policy, created: true };
    } catch (err) {
      if ((err as { code?: string }).code === "23505")
        throw conflict(`policy "${policy.policy}" was changed at the same time; try again`);
      throw err;
    }
  });
}

export async function loadPolicy(
  db: Db,
  workspaceId: string,
  id: string,
  version?: number,
): Promise<StoredPolicy> {
  const rows = await db
    .select()
    .from(policies)
    .where(
      and(
        eq(policies.workspaceId, workspaceId),
        eq(policies.id, id),
        ...(version ? [eq(policies.version, version)] : []),
      ),
    )
    .orderBy(desc(policies.version))
    .limit(1);
  const row = rows[0];
  if (!row) throw notFound("policy", version ? `${id} v${version}` : id);
  return { ...row, policy: parsePolicyYaml(row.yaml) };
}

export async function listPolicies(
  db: Db,
  workspaceId: string,
): Promise<Omit<StoredPolicy, "policy" | "yaml">[]> {
  const rows = await db
    .selectDistinctOn([policies.id], {
      id: policies.id,
      version: policies.version,
      createdAt: policies.createdAt,
      createdBy: policies.createdBy,
    })
    .from(policies)
    .where(eq(policies.workspaceId, workspaceId))
    .orderBy(policies.id, desc(policies.version));
  return rows;
}
