import { esc } from './html.js';

/** One line of a chart: points (x, y) with x in ms and a label and colour. */
export interface Series {
  label: string;
  color: string;
  points: ReadonlyArray<{ x: number; y: number | null }>;
}

const PALETTE = ['#1a73e8', '#e8710a', '#137333', '#a142f4', '#d93025', '#12b5cb'];

/** The i-th chart colour. */
export function color(i: number): string {
  return PALETTE[i % PALETTE.length] as string;
}

/**
 * An inline SVG line chart (no script, no library): series over a shared x axis, y from 0
 * (or the data minimum when negative) to the maximum, optional dashed threshold line,
 * legend below. Null points break the line. `xLabel` formats the x ticks (default: time of
 * day for ms timestamps).
 */
export function lineChart(
  series: readonly Series[],
  options: {
    title: string;
    threshold?: number;
    width?: number;
    height?: number;
    xLabel?: (x: number) => string;
  },
): string {
  const width = options.width ?? 560;
  const height = options.height ?? 180;
  const pad = { l: 44, r: 10, t: 20, b: 34 };
  const all = series.flatMap((s) => s.points.filter((p) => p.y !== null)) as Array<{ x: number; y: number }>;
  const head = `<svg role="img" aria-label="${esc(options.title)}" width="${width}" height="${height + 18}" viewBox="0 0 ${width} ${height + 18}"><text x="${pad.l}" y="13">${esc(options.title)}</text>`;
  if (all.length === 0) return `${head}<text x="${pad.l}" y="${height / 2}">no data yet</text></svg>`;
  const xs = all.map((p) => p.x);
  const ys = all.map((p) => p.y).concat(options.threshold ?? []);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(0, ...ys), Math.max(...ys) || 1];
  const sx = (x: number) => pad.l + (x1 === x0 ? 0.5 : (x - x0) / (x1 - x0)) * (width - pad.l - pad.r);
  const sy = (y: number) => pad.t + (1 - (y - y0) / (y1 - y0 || 1)) * (height - pad.t - pad.b);
  const fmtX = options.xLabel ?? ((x: number) => new Date(x).toISOString().slice(11, 19));
  let out = head;
  out += `<line x1="${pad.l}" y1="${sy(y0)}" x2="${width - pad.r}" y2="${sy(y0)}" stroke="#bbb"/>`;
  out += `<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${sy(y0)}" stroke="#bbb"/>`;
  for (const y of [y0, (y0 + y1) / 2, y1])
    out += `<text x="4" y="${sy(y) + 4}">${esc(Number(y.toPrecision(3)))}</text>`;
  out += `<text x="${pad.l}" y="${height - pad.b + 14}">${esc(fmtX(x0))}</text>`;
  out += `<text x="${width - pad.r}" y="${height - pad.b + 14}" text-anchor="end">${esc(fmtX(x1))}</text>`;
  if (options.threshold !== undefined) {
    const ty = sy(options.threshold);
    out += `<line x1="${pad.l}" y1="${ty}" x2="${width - pad.r}" y2="${ty}" stroke="#d93025" stroke-dasharray="4 3"/>`;
    out += `<text x="${width - pad.r}" y="${ty - 3}" text-anchor="end" style="fill:#d93025">threshold ${esc(options.threshold)}</text>`;
  }
  series.forEach((s) => {
    let d = '';
    let pen = false;
    for (const p of s.points) {
      if (p.y === null) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${sx(p.x).toFixed(1)} ${sy(p.y).toFixed(1)}`;
      pen = true;
    }
    out += `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>`;
    for (const p of s.points)
      if (p.y !== null)
        out += `<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="2" fill="${s.color}"/>`;
  });
  let lx = pad.l;
  for (const s of series) {
    out += `<rect x="${lx}" y="${height + 4}" width="10" height="10" fill="${s.color}"/><text x="${lx + 14}" y="${height + 13}">${esc(s.label)}</text>`;
    lx += 24 + s.label.length * 7;
  }
  return `${out}</svg>`;
}

/** An inline SVG bar chart of labelled values (e.g. PSI per feature), with a threshold line. */
export function barChart(
  bars: ReadonlyArray<{ label: string; value: number }>,
  options: { title: string; threshold?: number; width?: number; height?: number },
): string {
  const width = options.width ?? 560;
  const height = options.height ?? 160;
  const pad = { l: 44, r: 10, t: 20, b: 24 };
  const head = `<svg role="img" aria-label="${esc(options.title)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}"><text x="${pad.l}" y="13">${esc(options.title)}</text>`;
  if (bars.length === 0) return `${head}<text x="${pad.l}" y="${height / 2}">no data yet</text></svg>`;
  const max = Math.max(...bars.map((b) => b.value), options.threshold ?? 0) || 1;
  const bw = (width - pad.l - pad.r) / bars.length;
  const sy = (v: number) => pad.t + (1 - v / max) * (height - pad.t - pad.b);
  let out = head;
  bars.forEach((b, i) => {
    const over = options.threshold !== undefined && b.value >= options.threshold;
    out += `<rect x="${(pad.l + i * bw + 1).toFixed(1)}" y="${sy(b.value).toFixed(1)}" width="${Math.max(1, bw - 2).toFixed(1)}" height="${(sy(0) - sy(b.value)).toFixed(1)}" fill="${over ? '#d93025' : '#1a73e8'}"><title>${esc(b.label)}: ${esc(b.value.toFixed(4))}</title></rect>`;
  });
  out += `<text x="4" y="${sy(max) + 4}">${esc(Number(max.toPrecision(3)))}</text><text x="4" y="${sy(0)}">0</text>`;
  if (options.threshold !== undefined)
    out += `<line x1="${pad.l}" y1="${sy(options.threshold)}" x2="${width - pad.r}" y2="${sy(options.threshold)}" stroke="#d93025" stroke-dasharray="4 3"/>`;
  return `${out}</svg>`;
}
