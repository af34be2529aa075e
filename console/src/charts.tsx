/** Charts as page text and plain SVG (attributes only, no inline styles, so the strict CSP holds). */

/**
 * Bars as a list: each label and value is page text above its bar (legible at any width, as
 * the page's own font), and only the bar is SVG, its length a percentage of the row.
 */
export function BarChart(props: { title: string; bars: { label: string; value: number; text: string }[] }) {
  const max = Math.max(1, ...props.bars.map((b) => b.value));
  return (
    <figure className="chart">
      <ul className="bars" aria-label={props.title}>
        {props.bars.map((b) => (
          <li key={b.label}>
            <span>{b.label}</span> <span className="bar-value">{b.text}</span>
            <svg className="bar" width="100%" height="12" aria-hidden="true" focusable="false">
              <rect
                width={`${Math.max(0.5, (100 * b.value) / max)}%`}
                height="12"
                rx="3"
                className="chart-bar"
              />
            </svg>
          </li>
        ))}
      </ul>
      <figcaption>{props.title}</figcaption>
    </figure>
  );
}

/** Latency over time: one line (p50 or raw) and an optional p95 line, failures as marks. */
export function LineChart(props: {
  title: string;
  points: { at: number; value: number; high?: number; failed?: boolean }[];
  unit: string;
}) {
  const width = 640;
  const height = 200;
  const pad = { left: 48, right: 10, top: 10, bottom: 24 };
  if (props.points.length === 0) return null;
  const xs = props.points.map((p) => p.at);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const yMax = Math.max(1, ...props.points.map((p) => Math.max(p.value, p.high ?? 0)));
  const x = (at: number) => pad.left + ((at - x0) / Math.max(1, x1 - x0)) * (width - pad.left - pad.right);
  const y = (v: number) => height - pad.bottom - (v / yMax) * (height - pad.top - pad.bottom);
  const line = (pick: (p: (typeof props.points)[number]) => number | undefined) =>
    props.points
      .filter((p) => pick(p) !== undefined)
      .map((p, i) => `${i ? "L" : "M"}${x(p.at).toFixed(1)},${y(pick(p)!).toFixed(1)}`)
      .join(" ");
  const values = props.points.map((p) => p.value).sort((a, b) => a - b);
  const median = values[Math.floor(values.length / 2)] ?? 0;
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={props.title}>
        <title>
          {props.title}: {props.points.length} points, median {median} {props.unit}, max {yMax} {props.unit}
        </title>
        <line x1={pad.left} x2={width - pad.right} y1={y(0)} y2={y(0)} className="chart-axis" />
        <text x={pad.left - 6} y={y(yMax) + 4} textAnchor="end" className="chart-label">
          {yMax}
        </text>
        <text x={pad.left - 6} y={y(0)} textAnchor="end" className="chart-label">
          0 {props.unit}
        </text>
        {props.points.some((p) => p.high !== undefined) && (
          <path d={line((p) => p.high)} className="chart-line-high" />
        )}
        <path d={line((p) => p.value)} className="chart-line" />
        {props.points
          .filter((p) => p.failed)
          .map((p) => (
            <circle key={p.at} cx={x(p.at)} cy={y(0)} r={3} className="chart-fail" />
          ))}
      </svg>
      <figcaption>{props.title}</figcaption>
    </figure>
  );
}
