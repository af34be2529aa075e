import { stringify } from "csv-stringify/sync";
import { and, asc, eq, sql } from "drizzle-orm";
import type { FastifyRequest } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { fourEyesThreshold } from "../access/settings.ts";
import { exportRunToStripe } from "../billing/stripe-export.ts";
import { policyJsonSchema } from "../core/compensation/policy.ts";
import { AmendsError, conflict, invalidField } from "../core/errors.ts";
import { fourEyesRefusal } from "../core/four-eyes.ts";
import { actorRef, type Principal, principal } from "../http/auth.ts";
import type { ApiContext } from "../http/context.ts";
import { Id, Instant, InstantOut, iso, PositiveInt32 } from "../http/zod.ts";
import { compRunItems, compRunLines, ledgerEntries } from "../storage/schema.ts";
import { applyRun } from "./apply.ts";
import { listPolicies, loadPolicy, savePolicy } from "./policies.ts";
import { loadRunReport, renderRunReport } from "./report.ts";
import { RUN_STATUSES, runJson } from "./run-json.ts";
import { approveRun, createPreview, getRun, lineOf, listRuns, toldSql } from "./runs.ts";

const RunOut = z.object({
  id: z.string(),
  incident_id: z.string(),
  policy: z.object({ id: z.string(), version: z.number() }),
  status: z.enum(RUN_STATUSES),
  as_of: InstantOut,
  window: z.object({ start: InstantOut, end: InstantOut }),
  summary: z.record(z.string(), z.unknown()),
  preview_hash: z.string(),
  created_at: InstantOut,
  created_by: z.string().nullable(),
  approved_at: InstantOut.nullable(),
  approved_by: z.string().nullable(),
  applied_at: InstantOut.nullable(),
  applied: z.record(z.string(), z.unknown()).nullable(),
});

const PolicyOut = z.object({
  id: z.string(),
  version: z.number(),
  created_at: InstantOut,
  created_by: z.string().nullable(),
});

/** Totals per customer, per currency and unit, in the lines' (customer-sorted) order. */
function perCustomerTotals(
  lines: { customerId: string; kind: string; amount: number; currency: string | null; unit: string | null }[],
) {
  const out: { customer_id: string; money: Record<string, number>; units: Record<string, number> }[] = [];
  for (const l of lines) {
    let last = out.at(-1);
    if (last?.customer_id !== l.customerId) {
      last = { customer_id: l.customerId, money: {}, units: {} };
      out.push(last);
    }
    const bucket = l.kind === "unit_credit" ? last.units : last.money;
    const k = (l.kind === "unit_credit" ? l.unit : l.currency) ?? "?";
    bucket[k] = (bucket[k] ?? 0) + l.amount;
  }
  return out;
}

export const compensationRoutes =
  (ctx: ApiContext): FastifyPluginAsyncZod =>
  async (app) => {
    const tags = ["compensation"];
    const actor = (req: { principal?: Principal }) => actorRef(req.principal);
    app.addContentTypeParser(
      ["application/yaml", "text/yaml", "application/x-yaml", "text/plain"],
      { parseAs: "string" },
      (_req, body, done) => done(null, body),
    );

    app.get(
      "/policy-schema.json",
      {
        schema: {
          operationId: "getPolicySchema",
          tags,
          summary: "JSON Schema of the policy language (no token needed)",
        },
      },
      async () => policyJsonSchema(),
    );
    app.post(
      "/policies",
      {
        schema: {
          operationId: "savePolicy",
          tags,
          summary: "Save a policy (YAML); changed text makes a new version",
          description:
            'Send the YAML as application/yaml, or JSON {"yaml": "..."}. Errors name the path, line and column.',
          response: {
            201: PolicyOut.extend({ created: z.boolean() }),
            200: PolicyOut.extend({ created: z.boolean() }),
          },
        },
        preHandler: ctx.auth("compensation:write"),
      },
      async (req, reply) => {
        const body = req.body as unknown;
        const yaml = typeof body === "string" ? body : (body as { yaml?: unknown })?.yaml;
        if (typeof yaml !== "string" || !yaml.trim())
          throw invalidField("yaml", "send the policy as YAML text");
        const saved = await savePolicy(ctx.db, principal(req).workspaceId, yaml, actor(req), ctx.now());
        return reply.code(saved.created ? 201 : 200).send({
          id: saved.id,
          version: saved.version,
          created_at: iso(saved.createdAt)!,
          created_by: saved.createdBy,
          created: saved.created,
        });
      },
    );
    app.get(
      "/policies",
      {
        schema: {
          operationId: "listPolicies",
          summary: "List compensation policies, each at its latest version",
          tags,
          response: { 200: z.object({ policies: z.array(PolicyOut) }) },
        },
        preHandler: ctx.auth("read"),
      },
      async (req) => ({
        policies: (await listPolicies(ctx.db, principal(req).workspaceId)).map((p) => ({
          id: p.id,
          version: p.version,
          created_at: iso(p.createdAt)!,
          created_by: p.createdBy,
        })),
      }),
    );
    app.get(
      "/policies/:id",
      {
        schema: {
          operationId: "getPolicy",
          summary: "One compensation policy with its YAML",
          tags,
          params: z.object({ id: Id }),
          querystring: z.object({ version: z.coerce.number().pipe(PositiveInt32).optional() }),
        },
        preHandler: ctx.auth("read"),
      },
      async (req) => {
        const p = await loadPolicy(ctx.db, principal(req).workspaceId, req.params.id, req.query.version);
        return {
          id: p.id,
          version: p.version,
          yaml: p.yaml,
          created_at: iso(p.createdAt),
          created_by: p.createdBy,
          policy: p.policy,
        };
      },
    );

    const PreviewIn = z.strictObject({
      policy: Id,
      policy_version: PositiveInt32.optional(),
      as_of: Instant.optional().describe("the run's time: base of credit validity; now when absent"),
      detected_at: Instant.optional().describe(
        "when the fault was detected: base of refund deadlines; the incident's creation when absent",
      ),
    });
    const preview = async (req: FastifyRequest, incidentId: string, b: z.infer<typeof PreviewIn>) =>
      runJson(
        await createPreview(
          ctx.database,
          principal(req).workspaceId,
          {
            incidentId,
            policyId: b.policy,
            policyVersion: b.policy_version,
            asOf: b.as_of,
            detectedAt: b.detected_at,
          },
          actor(req),
          ctx.now(),
        ),
      );
    const previewSummary =
      "Preview what a policy pays for an incident; nothing is paid until the run is approved and applied";
    app.post(
      "/incidents/:id/compensation-runs",
      {
        schema: {
          operationId: "createCompensationRun",
          tags,
          summary: previewSummary,
          params: z.object({ id: Id }),
          body: PreviewIn,
          response: { 201: RunOut },
        },
        preHandler: ctx.auth("compensation:write"),
      },
      async (req, reply) => reply.code(201).send(await preview(req, req.params.id, req.body)),
    );
    // The CLI's `amends compensate preview --incident ID --policy …`, over HTTP; the run's other
    // routes answer under /compensation/runs too (compensationAlias).
    app.post(
      "/compensation/preview",
      {
        schema: {
          operationId: "previewCompensation",
          tags,
          summary: `${previewSummary} (the same as POST /incidents/{id}/compensation-runs)`,
          body: PreviewIn.extend({ incident: Id }),
          response: { 201: RunOut },
        },
        preHandler: ctx.auth("compensation:write"),
      },
      async (req, reply) => {
        const { incident, ...b } = req.body;
        return reply.code(201).send(await preview(req, incident, b));
      },
    );
    app.get(
      "/compensation-runs",
      {
        schema: {
          operationId: "listCompensationRuns",
          summary: "List compensation runs, newest first",
          tags,
          querystring: z.object({ incident: Id.optional() }),
          response: { 200: z.object({ runs: z.array(RunOut) }) },
        },
        preHandler: ctx.auth("read"),
      },
      async (req) => ({
        runs: (await listRuns(ctx.db, principal(req).workspaceId, req.query.incident)).map(runJson),
      }),
    );
    const RunParams = z.object({ id: Id });
    app.get(
      "/compensation-runs/:id",
      {
        schema: {
          operationId: "getCompensationRun",
          summary: "One compensation run: its state, totals and approvals",
          tags,
          params: RunParams,
          response: { 200: RunOut },
        },
        preHandler: ctx.auth("read"),
      },
      async (req) => runJson(await getRun(ctx.db, principal(req).workspaceId, req.params.id)),
    );
    app.get(
      "/compensation-runs/:id/preview",
      {
        schema: {
          operationId: "getCompensationPreview",
          tags,
          summary: "The whole preview, sorted by customer then key: same inputs, same bytes",
          params: RunParams,
        },
        preHandler: ctx.auth("read"),
      },
      async (req) => {
        const ws = principal(req).workspaceId;
        const run = await getRun(ctx.db, ws, req.params.id);
        const where = (t: typeof compRunLines | typeof compRunItems) =>
          and(eq(t.workspaceId, ws), eq(t.runId, run.id));
        const byCustomer = sql`customer_id collate "C"`;
        const [lines, items, notices] = await Promise.all([
          ctx.db
            .select()
            .from(compRunLines)
            .where(where(compRunLines))
            .orderBy(byCustomer, sql`key collate "C"`),
          ctx.db
            .select()
            .from(compRunItems)
            .where(where(compRunItems))
            .orderBy(byCustomer, sql`reference collate "C"`, asc(compRunItems.reason)),
          ctx.database.query<{ customer_id: string; nothing_due: boolean }>(
            `${toldSql("$1", "$2")} order by customer_id collate "C"`,
            [ws, run.id],
          ),
        ]);
        const item = (i: (typeof items)[number]) => ({
          customer_id: i.customerId,
          reference: i.reference,
          reason: i.reason,
          detail: i.detail,
          key: i.key,
        });
        // A notice lists the customer's lines (sorted by key, as they were read).
        const keysOf = new Map<string, string[]>();
        for (const l of lines) keysOf.set(l.customerId, [...(keysOf.get(l.customerId) ?? []), l.key]);
        return {
          run: runJson(run),
          lines: lines.map(lineOf),
          excluded: items.filter((i) => i.type === "excluded").map(item),
          review: items.filter((i) => i.type === "review").map(item),
          notifications: notices.map((n) => ({
            customer_id: n.customer_id,
            nothing_due: n.nothing_due,
            keys: keysOf.get(n.customer_id) ?? [],
          })),
          totals: { money: run.summary.money ?? {}, units: run.summary.units ?? {} },
          per_customer: perCustomerTotals(lines),
        };
      },
    );
    app.post(
      "/compensation-runs/:id/approve",
      {
        schema: {
          operationId: "approveCompensationRun",
          summary: "Approve a previewed run (above the four-eyes threshold, a second approver from finance)",
          tags,
          params: RunParams,
          response: { 200: RunOut },
        },
        preHandler: ctx.auth("compensation:approve"),
      },
      async (req) => {
        const p = principal(req);
        const run = await getRun(ctx.db, p.workspaceId, req.params.id);
        if (run.status === "previewed") {
          const refusal = fourEyesRefusal({
            totals: (run.summary.money ?? {}) as Record<string, number>,
            threshold: await fourEyesThreshold(ctx.db, p.workspaceId),
            previewedBy: run.createdBy,
            approver: { kind: p.actor.kind, id: p.actor.id, role: p.user?.role },
          });
          if (refusal) throw new AmendsError("FOUR_EYES", refusal);
        }
        return runJson(await approveRun(ctx.db, p.workspaceId, req.params.id, actor(req), ctx.now()));
      },
    );
    app.post(
      "/compensation-runs/:id/apply",
      {
        schema: {
          operationId: "applyCompensationRun",
          tags,
          summary: "Book the approved run in the ledger, exactly once, and queue one message per customer",
          params: RunParams,
          response: { 200: RunOut },
        },
        preHandler: ctx.auth("compensation:write"),
      },
      async (req) =>
        runJson(await applyRun(ctx.database, principal(req).workspaceId, req.params.id, ctx.now())),
    );
    app.post(
      "/compensation-runs/:id/export/stripe",
      {
        schema: {
          operationId: "exportCompensationRunToStripe",
          tags,
          summary:
            "Send what an applied run booked to Stripe (refunds, balance credits, credit grants), idempotently",
          params: RunParams,
          body: z
            .strictObject({
              unit_prices: z
                .record(
                  z.string(),
                  z.strictObject({
                    amount: z.number().int().min(0),
                    currency: z.string().regex(/^[A-Z]{3}$/),
                  }),
                )
                .optional()
                .describe(
                  'price of one unit by "unit:scope" or "unit", e.g. {"minutes:berlin": {"amount": 29, "currency": "EUR"}}',
                ),
            })
            .nullish(),
        },
        preHandler: ctx.auth("compensation:write"),
      },
      async (req) => {
        const ws = principal(req).workspaceId;
        if (!ctx.stripe) throw conflict("Stripe is not configured: set STRIPE_API_KEY");
        const run = await getRun(ctx.db, ws, req.params.id);
        if (run.status !== "applied") throw conflict(`run "${run.id}" is ${run.status}; apply it first`);
        return exportRunToStripe(ctx.database, ctx.stripe, ws, run.id, {
          unitPrices: req.body?.unit_prices,
          now: ctx.now(),
        });
      },
    );
    const report = async (ws: string, runId: string) =>
      loadRunReport(ctx.database, ws, runJson(await getRun(ctx.db, ws, runId)));
    app.get(
      "/compensation-runs/:id/report",
      {
        schema: {
          operationId: "getCompensationReport",
          tags,
          summary: "Amounts by city and by rule, exclusions and review counts",
          params: RunParams,
        },
        preHandler: ctx.auth("read"),
      },
      async (req) => report(principal(req).workspaceId, req.params.id),
    );
    app.get(
      "/compensation-runs/:id/progress",
      {
        schema: {
          operationId: "getCompensationProgress",
          tags,
          summary: "How far applying the run has come: lines booked of all its lines",
          description:
            "Apply books lines in key order, a thousand per transaction; poll this while it runs for a progress bar.",
          params: RunParams,
          response: {
            200: z.object({ status: z.string(), lines: z.number(), done: z.number() }),
          },
        },
        preHandler: ctx.auth("read"),
      },
      async (req) => {
        const ws = principal(req).workspaceId;
        const run = await getRun(ctx.db, ws, req.params.id);
        const [row] = await ctx.database.query<{ lines: number; done: number }>(
          // An apply books whole customers in order: its cursor is the last one done.
          `select (select count(*) from comp_run_lines where workspace_id = $1 and run_id = $2)::int as lines,
                  (select count(*) from comp_run_lines where workspace_id = $1 and run_id = $2
                      and customer_id <= (select apply_cursor from comp_runs where workspace_id = $1 and id = $2))::int as done`,
          [ws, run.id],
        );
        const lines = row?.lines ?? 0;
        return { status: run.status, lines, done: run.status === "applied" ? lines : (row?.done ?? 0) };
      },
    );
    app.get(
      "/compensation-runs/:id/report.html",
      {
        schema: {
          operationId: "getCompensationReportPage",
          tags,
          summary: "The run's report as a page, with charts by city and by rule",
          params: RunParams,
        },
        preHandler: ctx.auth("read"),
      },
      async (req, reply) =>
        reply
          .type("text/html; charset=utf-8")
          .send(renderRunReport(await report(principal(req).workspaceId, req.params.id))),
    );
    app.get(
      "/compensation-runs/:id/export.csv",
      {
        schema: {
          operationId: "exportCompensationRunCsv",
          tags,
          summary: "What the run booked, as CSV for any billing system",
          params: RunParams,
        },
        preHandler: ctx.auth("read"),
      },
      async (req, reply) => {
        const ws = principal(req).workspaceId;
        const run = await getRun(ctx.db, ws, req.params.id);
        const entries = await ctx.db
          .select()
          .from(ledgerEntries)
          .where(and(eq(ledgerEntries.workspaceId, ws), eq(ledgerEntries.runId, run.id)))
          .orderBy(sql`customer_id collate "C"`, sql`action_key collate "C"`);
        const header = [
          "entry_id",
          "idempotency_key",
          "customer_id",
          "kind",
          "amount",
          "currency",
          "unit",
          "scope",
          "charge_id",
          "session_id",
          "reason",
          "due_by",
          "expires_at",
          "rule",
        ];
        const rows = entries.map((e) => {
          const d = e.detail as Record<string, string | null>;
          return [
            e.id,
            e.idempotencyKey,
            e.customerId,
            e.kind,
            e.amount,
            e.kind === "unit_credit" ? "" : e.currency,
            d.unit ?? "",
            d.scope ?? "",
            d.charge ?? "",
            d.session ?? "",
            d.reason ?? "",
            d.dueBy ?? "",
            d.expiresAt ?? "",
            d.rule ?? "",
          ];
        });
        return reply
          .type("text/csv; charset=utf-8")
          .header("content-disposition", `attachment; filename="${run.id}.csv"`)
          .send(stringify([header, ...rows]));
      },
    );
  };

/**
 * `/api/v1/compensation/runs/…` and `/api/v1/compensation/policies/…` are other names for
 * `/api/v1/compensation-runs/…` and `/api/v1/policies/…`: everything about compensation under
 * one prefix, as the CLI groups it under `amends compensate`.
 */
export const compensationAlias = (url: string) =>
  url.replace(/^\/api\/v1\/compensation\/(runs|policies)(?=[/?]|$)/, (_, name: string) =>
    name === "runs" ? "/api/v1/compensation-runs" : "/api/v1/policies",
  );
