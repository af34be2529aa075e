/** Operators' API for the workspace's other pages: what each shows, where, and who may see it. */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { principal } from "../http/auth.ts";
import type { ApiContext } from "../http/context.ts";
import { Id, iso } from "../http/zod.ts";
import { deletePage, isPrivate, listPages, type StatusPage, savePage } from "./pages.ts";

const Hostname = z
  .string()
  .regex(
    /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i,
    "a host name such as status.example.com",
  );
const PageBody = z.strictObject({
  name: z.string().trim().min(1).max(200),
  hostname: Hostname.nullable()
    .optional()
    .describe("custom domain pointing at Amends; the page is also at /p/<id>/"),
  components: z.array(Id).min(1).max(1_000).describe("shown with their subtrees"),
  password: z.string().min(8, "at least 8 characters").max(200).nullable().optional(),
  email_domains: z
    .array(z.string().regex(/^[a-z0-9.-]+\.[a-z]{2,}$/i, "a domain such as example.com"))
    .max(100)
    .optional(),
  ip_allow: z.array(z.string().max(50)).max(200).optional().describe("addresses or CIDR ranges"),
});

const pageJson = (p: StatusPage) => ({
  id: p.id,
  name: p.name,
  hostname: p.hostname,
  path: `/p/${p.id}/`,
  components: p.components,
  private: isPrivate(p),
  password: Boolean(p.passwordHash),
  email_domains: p.emailDomains,
  ip_allow: p.ipAllow,
  created_at: iso(p.createdAt),
  updated_at: iso(p.updatedAt),
});

export const statusPagesRoutes =
  (ctx: ApiContext): FastifyPluginAsyncZod =>
  async (app) => {
    const tags = ["status pages"];
    const input = (id: string, b: z.infer<typeof PageBody>) => ({
      id,
      name: b.name,
      hostname: b.hostname,
      components: b.components,
      password: b.password,
      emailDomains: b.email_domains,
      ipAllow: b.ip_allow,
    });
    app.post(
      "/status-pages",
      {
        schema: {
          operationId: "createStatusPage",
          tags,
          summary: "Add a page showing chosen components, public or private",
          body: PageBody.extend({ id: Id }),
        },
        preHandler: ctx.auth("components:write"),
      },
      async (req, reply) => {
        const ws = principal(req).workspaceId;
        const page = await savePage(ctx.db, ws, input(req.body.id, req.body), ctx.now(), "create");
        ctx.changed(ws);
        return reply.code(201).send(pageJson(page));
      },
    );
    app.get(
      "/status-pages",
      {
        schema: { operationId: "listStatusPages", summary: "List the workspace's status pages", tags },
        preHandler: ctx.auth("read"),
      },
      async (req) => ({
        pages: (await listPages(ctx.db, principal(req).workspaceId)).map(pageJson),
      }),
    );
    app.put(
      "/status-pages/:id",
      {
        schema: {
          operationId: "replaceStatusPage",
          summary: "Replace a page's settings: its components and who may see it",
          tags,
          params: z.object({ id: Id }),
          body: PageBody,
        },
        preHandler: ctx.auth("components:write"),
      },
      async (req) => {
        const ws = principal(req).workspaceId;
        const page = await savePage(ctx.db, ws, input(req.params.id, req.body), ctx.now(), "update");
        ctx.changed(ws);
        return pageJson(page);
      },
    );
    app.delete(
      "/status-pages/:id",
      {
        schema: {
          operationId: "deleteStatusPage",
          summary: "Delete a status page",
          tags,
          params: z.object({ id: Id }),
        },
        preHandler: ctx.auth("components:write"),
      },
      async (req, reply) => {
        const ws = principal(req).workspaceId;
        await deletePage(ctx.db, ws, req.params.id);
        ctx.changed(ws);
        return reply.code(204).send();
      },
    );
  };
