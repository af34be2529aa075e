import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { type ComponentNode, flattenTree } from "../core/components.ts";
import { principal } from "../http/auth.ts";
import type { ApiContext } from "../http/context.ts";
import { ComponentStatusSchema, Id, InstantOut, iso } from "../http/zod.ts";
import {
  createComponent,
  deleteComponent,
  getComponentNode,
  loadComponentTree,
  updateComponent,
} from "./store.ts";

const ComponentOut = z.object({
  id: z.string(),
  parent_id: z.string().nullable(),
  name: z.string(),
  description: z.string().nullable(),
  region: z.string().nullable().describe("The component's own region, if set"),
  effective_region: z.string().nullable().describe("Own region or the nearest ancestor's"),
  path: z.array(z.string()).describe("Names from the root down"),
  status: ComponentStatusSchema.describe(
    "Effective status, as a customer reads it: worst of own, open incidents, children and what is set on its ancestors",
  ),
  own_status: ComponentStatusSchema,
  position: z.number().int(),
  created_at: InstantOut,
  updated_at: InstantOut,
});

export const componentJson = (n: ComponentNode): z.infer<typeof ComponentOut> => ({
  id: n.component.id,
  parent_id: n.component.parentId,
  name: n.component.name,
  description: n.component.description,
  region: n.component.region,
  effective_region: n.region,
  path: n.path,
  status: n.status,
  own_status: n.component.ownStatus,
  position: n.component.position,
  created_at: iso(n.component.createdAt)!,
  updated_at: iso(n.component.updatedAt)!,
});

const Fields = {
  parent_id: Id.nullable().optional(),
  name: z.string().trim().min(1, "must not be empty").max(120, "at most 120 characters"),
  description: z.string().max(2_000, "at most 2,000 characters").nullable().optional(),
  region: z.string().trim().min(1).max(64, "at most 64 characters").nullable().optional(),
  position: z.number().int().min(0).max(1_000_000).optional(),
  status: ComponentStatusSchema.optional().describe("The component's own status, outside incidents"),
};
const ComponentCreate = z.strictObject({ id: Id.optional(), ...Fields });
const ComponentPatch = z.strictObject({ ...Fields, name: Fields.name.optional() });
const Params = z.object({ id: Id });

export const componentRoutes =
  (ctx: ApiContext): FastifyPluginAsyncZod =>
  async (app) => {
    const tags = ["components"];
    app.get(
      "/components",
      {
        schema: {
          operationId: "listComponents",
          tags,
          summary: "List components, parents before children",
          response: { 200: z.object({ components: z.array(ComponentOut) }) },
        },
        preHandler: ctx.auth("read"),
      },
      async (req) => ({
        components: flattenTree(await loadComponentTree(ctx.db, principal(req).workspaceId)).map(
          componentJson,
        ),
      }),
    );
    app.get(
      "/components/:id",
      {
        schema: {
          operationId: "getComponent",
          summary: "One component, with its effective status and its path",
          tags,
          params: Params,
          response: { 200: ComponentOut },
        },
        preHandler: ctx.auth("read"),
      },
      async (req) => componentJson(await getComponentNode(ctx.db, principal(req).workspaceId, req.params.id)),
    );
    app.post(
      "/components",
      {
        schema: {
          operationId: "createComponent",
          tags,
          summary: "Create a component",
          body: ComponentCreate,
          response: { 201: ComponentOut },
        },
        preHandler: ctx.auth("components:write"),
      },
      async (req, reply) => {
        const ws = principal(req).workspaceId;
        const { parent_id, ...rest } = req.body;
        const id = await createComponent(ctx.db, ws, { ...rest, parentId: parent_id }, ctx.now());
        ctx.changed(ws);
        return reply.code(201).send(componentJson(await getComponentNode(ctx.db, ws, id)));
      },
    );
    app.patch(
      "/components/:id",
      {
        schema: {
          operationId: "updateComponent",
          tags,
          summary: "Change a component, its place in the tree or its own status",
          params: Params,
          body: ComponentPatch,
          response: { 200: ComponentOut },
        },
        preHandler: ctx.auth("components:write"),
      },
      async (req) => {
        const ws = principal(req).workspaceId;
        const { parent_id, ...rest } = req.body;
        await updateComponent(ctx.db, ws, req.params.id, { ...rest, parentId: parent_id }, ctx.now());
        ctx.changed(ws);
        return componentJson(await getComponentNode(ctx.db, ws, req.params.id));
      },
    );
    app.delete(
      "/components/:id",
      {
        schema: {
          operationId: "deleteComponent",
          tags,
          summary: "Delete a leaf component never named by an incident",
          params: Params,
        },
        preHandler: ctx.auth("components:write"),
      },
      async (req, reply) => {
        const ws = principal(req).workspaceId;
        await deleteComponent(ctx.db, ws, req.params.id);
        ctx.changed(ws);
        return reply.code(204).send();
      },
    );
  };
