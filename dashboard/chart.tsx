/**
 * A hand-written SVG bar chart: one series over days, with its largest value labelled. Why not a
 * library: the dashboard needs bars over ≤ 366 days and nothing else (no zoom, no legend engine);
 * the smallest chart libraries still cost 10–40 KB gzip, this costs well under 1 KB. It is an
 * image to assistive technology (role="img" with a summary); the figures are in tables beside it.
 */
export interface Point {
  label: string;
  value: number;
}

const W = 600;
const H = 160;
const PAD = 24;

export function BarChart({ title, points, format }: { title: string; points: Point[]; format: (v: number) => string }) {
  if (points.length === 0) return <p class="empty">No data for this period yet.</p>;
  const max = Math.max(...points.map((p) => p.value), 1);
  const total = points.reduce((n, p) => n + p.value, 0);
  const step = (W - PAD) / points.length;
  // Thin bars for long periods, never wider than 40 units: one day alone must not look like a wall.
  const bar = Math.min(40, Math.max(1, step * 0.8));
  const first = points[0]?.label ?? "";
  const last = points[points.length - 1]?.label ?? "";
  return (
    <figure class="chart">
      <svg
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={`${title}: ${format(total)} in total from ${first} to ${last}, at most ${format(max)} a day.`}
      >
        <line x1={PAD} y1={H - PAD} x2={W} y2={H - PAD} class="axis" />
        <text x={PAD} y={12} class="tick">
          {format(max)}
        </text>
        {points.map((p, i) => {
          const h = ((H - 2 * PAD) * p.value) / max;
          return (
            <rect
              key={p.label}
              x={PAD + i * step + (step - bar) / 2}
              y={H - PAD - h}
              width={bar}
              height={h}
              class="bar"
            >
              <title>{`${p.label}: ${format(p.value)}`}</title>
            </rect>
          );
        })}
        <text x={PAD} y={H - 6} class="tick">
          {first}
        </text>
        <text x={W} y={H - 6} class="tick end">
          {last}
        </text>
      </svg>
      <figcaption>{title}</figcaption>
    </figure>
  );
}

/**
 * One point per day from `from` (or the first row) to `to` (or the last row), zeros where nothing
 * happened, so bars are evenly spaced in time. At most 400 days.
 */
export function daily<T extends { date: string }>(
  rows: T[],
  value: (r: T) => number,
  from?: string,
  to?: string,
): Point[] {
  if (rows.length === 0) return [];
  const first = from && from > "2000" ? from.slice(0, 10) : rows[0]?.date;
  const last = to ? to.slice(0, 10) : rows[rows.length - 1]?.date;
  if (!first || !last) return [];
  const sums = new Map<string, number>();
  for (const r of rows) sums.set(r.date, (sums.get(r.date) ?? 0) + value(r));
  const out: Point[] = [];
  for (let t = Date.parse(first); t <= Date.parse(last) && out.length < 400; t += 86400_000) {
    const d = new Date(t).toISOString().slice(0, 10);
    out.push({ label: d, value: sums.get(d) ?? 0 });
  }
  return out;
}
