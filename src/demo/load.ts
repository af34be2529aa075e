import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { upsertCharges, upsertCustomers, upsertSessions } from "../company-data/store.ts";
import { savePolicy } from "../compensation/policies.ts";
import { insertIncident } from "../incidents/store.ts";
import { saveBrandAsset, saveBrandSettings } from "../status-page/brand.ts";
import type { Database } from "../storage/database.ts";
import { components } from "../storage/schema.ts";
import { createToken } from "../tokens/store.ts";
import { createWorkspace, findWorkspace, type Workspace } from "../workspaces/store.ts";
import { generateDemo } from "./generate.ts";

/** The demo company's look on its page: a logo (also its favicon) and an accent colour. */
const DEMO_LOGO = fileURLToPath(new URL("../../examples/brand/the-fleet-logo.svg", import.meta.url));
const DEMO_ACCENT = "#0f6e6e";

/** A ready policy for the demo's past outage: `amends compensation preview <incident> --policy fleet-end-rental-outage`. */
const DEMO_POLICY = fileURLToPath(
  new URL("../../examples/policies/fleet-end-rental-outage.yaml", import.meta.url),
);

export interface DemoLoaded {
  workspace: Workspace;
  token: string;
  counts: { components: number; customers: number; sessions: number; charges: number };
}

/** Loads the demo workspace in one transaction; refuses if a `fleet` workspace exists. */
export async function loadDemo(database: Database, now: Date): Promise<DemoLoaded> {
  const demo = generateDemo(now);
  return database.transaction(async (tx) => {
    if (await findWorkspace(tx.db, demo.workspace.slug)) {
      throw new Error(`a workspace "${demo.workspace.slug}" already exists`);
    }
    const workspace = await createWorkspace(tx.db, demo.workspace);
    const created = new Date(now.getTime() - 90 * 86_400_000);
    await tx.db.insert(components).values(
      demo.components.map((c) => ({
        ...c,
        workspaceId: workspace.id,
        createdAt: created,
        updatedAt: created,
      })),
    );
    await upsertCustomers(tx, workspace.id, demo.customers);
    await upsertSessions(tx, workspace.id, demo.sessions);
    await upsertCharges(tx, workspace.id, demo.charges);
    await insertIncident(tx.db, workspace.id, demo.outage);
    await savePolicy(tx.db, workspace.id, readFileSync(DEMO_POLICY, "utf8"), "demo", now);
    await saveBrandSettings(tx.db, workspace.id, { accent: DEMO_ACCENT });
    for (const kind of ["logo", "favicon"] as const)
      await saveBrandAsset(tx.db, workspace.id, kind, readFileSync(DEMO_LOGO), now);
    const { secret } = await createToken(tx.db, { workspaceId: workspace.id, name: "demo" });
    return {
      workspace,
      token: secret,
      counts: {
        components: demo.components.length,
        customers: demo.customers.length,
        sessions: demo.sessions.length,
        charges: demo.charges.length,
      },
    };
  });
}
