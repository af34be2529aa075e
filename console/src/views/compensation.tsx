/**
 * Compensation runs: the list with its review queue (previews waiting for approval), and one
 * run: totals, charts by city and by rule, the preview table, approval by a second person,
 * applying with a progress bar, and the CSV export.
 */
import { useState } from "react";
import { type Chart, get, type Preview, post, type Run, type RunReport, type Session } from "../api.ts";
import { can } from "../app.tsx";
import { BarChart } from "../charts.tsx";
import { useI18n } from "../i18n.tsx";
import { Link } from "../router.tsx";
import { ErrorBox, Loading, Scroll, StatusBadge, useAction, useLoad } from "../ui.tsx";

/** Lines per page of a run's table: a long run is paged, not one endless page. */
const PAGE_ROWS = 50;

function Totals({ money: m, units }: { money?: Record<string, number>; units?: Record<string, number> }) {
  const { money } = useI18n();
  const parts = [
    ...Object.entries(m ?? {}).map(([c, a]) => money(a, c)),
    ...Object.entries(units ?? {}).map(([u, n]) => `${n} ${u}`),
  ];
  return <>{parts.join(" + ") || "0"}</>;
}

function RunsTable({ runs, caption }: { runs: Run[]; caption: string }) {
  const { t, time } = useI18n();
  return (
    <Scroll label={caption}>
      <table>
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">{t("run")}</th>
            <th scope="col">{t("incident")}</th>
            <th scope="col">{t("status")}</th>
            <th scope="col" className="num">
              {t("total")}
            </th>
            <th scope="col">{t("createdAt")}</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => (
            <tr key={r.id}>
              <td>
                <Link to={`/compensation/${encodeURIComponent(r.id)}`}>{r.id}</Link>
              </td>
              <td>{r.incident_id}</td>
              <td>
                <StatusBadge status={r.status} />
              </td>
              <td className="num">
                <Totals money={r.summary.money} units={r.summary.units} />
              </td>
              <td>{time(r.created_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Scroll>
  );
}

export function CompensationView(_: { session: Session }) {
  const { t } = useI18n();
  const runs = useLoad(() => get<{ runs: Run[] }>("/compensation-runs").then((r) => r.runs), [], 10_000);
  if (!runs.data) return <Loading error={runs.error} />;
  const waiting = runs.data.filter((r) => r.status === "previewed" || r.status === "approved");
  return (
    <>
      <h1>{t("nav.compensation")}</h1>
      <p>{t("compensationIntro")}</p>
      <h2>{t("reviewQueue")}</h2>
      {waiting.length ? (
        <RunsTable runs={waiting} caption={t("reviewQueueCaption")} />
      ) : (
        <p>{t("nothingWaiting")}</p>
      )}
      <h2>{t("allRuns")}</h2>
      <RunsTable runs={runs.data} caption={t("allRuns")} />
    </>
  );
}

function chartBars(chart: Chart, money: (a: number, c: string) => string) {
  const fmt = (n: number) =>
    "currency" in chart.measure ? money(n, chart.measure.currency) : `${n} ${chart.measure.unit}`;
  return chart.bars.map((b) => ({ label: b.label, value: b.amount, text: fmt(b.amount) }));
}

export function RunView({ id, session }: { id: string; session: Session }) {
  const { t, time, money } = useI18n();
  const path = `/compensation-runs/${encodeURIComponent(id)}`;
  const preview = useLoad(() => get<Preview>(`${path}/preview`), [path]);
  const report = useLoad(() => get<RunReport>(`${path}/report`), [path]);
  const approve = useAction();
  const apply = useAction();
  const [progress, setProgress] = useState<{ value?: number; max: number }>();
  const p = preview.data;
  if (!p) return <Loading error={preview.error} />;
  const run = p.run;

  const doApprove = () =>
    approve.run(async () => {
      await post<Run>(`${path}/approve`);
      await preview.reload();
    });
  const doApply = () =>
    apply.run(async () => {
      // Apply books the run in one request, a thousand lines per transaction; the bar follows
      // the lines booked so far until it answers.
      setProgress({ max: p.lines.length || 1 });
      let applying = true;
      const follow = (async () => {
        while (applying) {
          await new Promise((r) => setTimeout(r, 500));
          const now = await get<{ lines: number; done: number }>(`${path}/progress`).catch(() => undefined);
          if (applying && now) setProgress({ value: now.done, max: now.lines || 1 });
        }
      })();
      try {
        await post<Run>(`${path}/apply`);
      } finally {
        applying = false;
        await follow;
      }
      setProgress({ value: p.lines.length || 1, max: p.lines.length || 1 });
      await preview.reload();
    });

  return (
    <>
      <h1>
        {t("run")} {run.id}
      </h1>
      <dl className="facts">
        <dt>{t("status")}</dt>
        <dd>
          <StatusBadge status={run.status} />
        </dd>
        <dt>{t("incident")}</dt>
        <dd>
          <Link to={`/incidents/${encodeURIComponent(run.incident_id)}`}>{run.incident_id}</Link>
        </dd>
        <dt>{t("policy")}</dt>
        <dd>
          {run.policy.id} v{run.policy.version}
        </dd>
        <dt>{t("total")}</dt>
        <dd data-testid="run-total">
          <Totals money={p.totals.money} units={p.totals.units} />
        </dd>
        <dt>{t("customers")}</dt>
        <dd>{p.per_customer.length}</dd>
        <dt>{t("previewedBy")}</dt>
        <dd>
          {run.created_by ?? "—"} · {time(run.created_at)}
        </dd>
        {run.approved_at && (
          <>
            <dt>{t("approvedBy")}</dt>
            <dd>
              {run.approved_by} · {time(run.approved_at)}
            </dd>
          </>
        )}
        {run.applied_at && (
          <>
            <dt>{t("appliedAt")}</dt>
            <dd>{time(run.applied_at)}</dd>
          </>
        )}
      </dl>

      <div className="buttons">
        {run.status === "previewed" && can(session, "compensation:approve") && (
          <button type="button" className="primary" onClick={doApprove} disabled={approve.busy}>
            {t("approve")}
          </button>
        )}
        {run.status === "approved" && can(session, "compensation:write") && (
          <button type="button" className="primary" onClick={doApply} disabled={apply.busy}>
            {t("apply")}
          </button>
        )}
        {run.status === "applied" && (
          <a className="button" href={`/api/v1${path}/export.csv`} download={`${run.id}.csv`}>
            {t("exportCsv")}
          </a>
        )}
      </div>
      {progress && (
        <div className="progress">
          <label htmlFor="apply-progress">{apply.busy ? t("applying") : t("applied")}</label>
          <progress id="apply-progress" max={progress.max} value={progress.value} />
        </div>
      )}
      <ErrorBox error={approve.error} />
      <ErrorBox error={apply.error} />

      {report.data && (
        <section aria-labelledby="charts-heading">
          <h2 id="charts-heading">{t("charts")}</h2>
          <div className="charts">
            {report.data.byCity.map((c) => (
              <BarChart
                key={`city-${JSON.stringify(c.measure)}`}
                title={t("byCity")}
                bars={chartBars(c, money)}
              />
            ))}
            {report.data.byRule.map((c) => (
              <BarChart
                key={`rule-${JSON.stringify(c.measure)}`}
                title={t("byRule")}
                bars={chartBars(c, money)}
              />
            ))}
          </div>
        </section>
      )}

      {p.review.length > 0 && (
        <section aria-labelledby="review-heading">
          <h2 id="review-heading">{t("needsReview", { n: p.review.length })}</h2>
          <ItemList items={p.review} />
        </section>
      )}

      <LinesTable preview={p} />
      {p.excluded.length > 0 && (
        <details>
          <summary>{t("excluded", { n: p.excluded.length })}</summary>
          <ItemList items={p.excluded} />
        </details>
      )}
    </>
  );
}

/** A run's lines, a page at a time, with their total. */
function LinesTable({ preview: p }: { preview: Preview }) {
  const { t, money } = useI18n();
  const [page, setPage] = useState(0);
  const pages = Math.max(1, Math.ceil(p.lines.length / PAGE_ROWS));
  const from = page * PAGE_ROWS;
  const shown = p.lines.slice(from, from + PAGE_ROWS);
  return (
    <>
      <h2 id="lines-heading">{t("previewTable")}</h2>
      <Scroll label={t("previewTable")}>
        <table>
          <caption>
            {t("previewCaption", {
              from: shown.length ? from + 1 : 0,
              to: from + shown.length,
              n: p.lines.length,
            })}
          </caption>
          <thead>
            <tr>
              <th scope="col">{t("customer")}</th>
              <th scope="col">{t("action")}</th>
              <th scope="col">{t("rule")}</th>
              <th scope="col" className="num">
                {t("amount")}
              </th>
            </tr>
          </thead>
          <tbody>
            {shown.map((l) => (
              <tr key={l.key}>
                <td>{l.customerId}</td>
                <td>{l.key}</td>
                <td>{l.rule}</td>
                <td className="num">
                  {l.currency ? money(l.amount, l.currency) : `${l.amount} ${l.unit ?? ""}`}
                </td>
              </tr>
            ))}
          </tbody>
          <tfoot>
            <tr>
              <th scope="row" colSpan={3}>
                {t("total")}
              </th>
              <td className="num">
                <Totals money={p.totals.money} units={p.totals.units} />
              </td>
            </tr>
          </tfoot>
        </table>
      </Scroll>
      {pages > 1 && (
        <nav className="pager" aria-labelledby="lines-heading">
          <button type="button" disabled={page === 0} onClick={() => setPage(page - 1)}>
            {t("previousPage")}
          </button>
          <span>{t("pageOf", { page: page + 1, pages })}</span>
          <button type="button" disabled={page >= pages - 1} onClick={() => setPage(page + 1)}>
            {t("nextPage")}
          </button>
        </nav>
      )}
    </>
  );
}

/** Items to review or excluded: customer, what it is about, and why. */
function ItemList({ items }: { items: { customer_id: string; reference: string; reason: string }[] }) {
  return (
    <ul>
      {items.map((x) => (
        <li key={`${x.customer_id}-${x.reference}-${x.reason}`}>
          {x.customer_id} · {x.reference} · {x.reason}
        </li>
      ))}
    </ul>
  );
}
