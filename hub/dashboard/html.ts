/** Escapes text for HTML element content and attribute values. */
export function esc(value: unknown): string {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Markup that is already safe (built by these helpers). */
export interface Html {
  readonly html: string;
}

/** Wraps trusted markup. */
export function raw(html: string): Html {
  return { html };
}

/** A table: cells are escaped unless they are {@link Html}. */
export function table(
  headers: readonly string[],
  rows: ReadonlyArray<ReadonlyArray<string | number | Html | null | undefined>>,
  attrs = '',
): string {
  const cell = (c: string | number | Html | null | undefined) =>
    typeof c === 'object' && c !== null ? c.html : esc(c ?? '');
  const head = headers.map((h) => `<th>${esc(h)}</th>`).join('');
  const body = rows.length
    ? rows.map((r) => `<tr>${r.map((c) => `<td>${cell(c)}</td>`).join('')}</tr>`).join('')
    : `<tr><td colspan="${headers.length}" class="empty">none</td></tr>`;
  return `<table ${attrs}><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

/** "3 s ago", "5 min ago", "2 h ago", "never". */
export function ago(ms: number | null | undefined, now: number): string {
  if (ms === null || ms === undefined) return 'never';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

/** Bytes as B / KiB / MiB / GiB. */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** A number with `digits` decimals, or an em dash for null. */
export function num(n: number | null | undefined, digits = 3): string {
  return n === null || n === undefined || Number.isNaN(n) ? '—' : n.toFixed(digits);
}

const STYLE = `body{font:14px system-ui,sans-serif;margin:0;color:#1d2330;background:#f5f6f8}
header{background:#1d2330;color:#fff;padding:10px 20px;display:flex;gap:20px;align-items:center}
header a{color:#cfd8ff;text-decoration:none}header strong{font-size:16px}
main{padding:16px 20px;max-width:1200px}section{background:#fff;border-radius:6px;padding:12px 16px;margin:0 0 16px;box-shadow:0 1px 2px #0001}
h1{font-size:20px;margin:0 0 12px}h2{font-size:16px;margin:0 0 8px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e4e7ec;vertical-align:top}
th{font-weight:600;color:#555}td.empty{color:#888}.online{color:#137333;font-weight:600}.offline{color:#a50e0e;font-weight:600}
.bad{color:#a50e0e;font-weight:600}.ok{color:#137333}.muted{color:#777}.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{background:#fff;border-radius:6px;padding:10px 16px;min-width:120px;box-shadow:0 1px 2px #0001}.card b{display:block;font-size:22px}
svg text{font:11px system-ui,sans-serif;fill:#555}ol.stages{display:inline-flex;gap:14px;margin:0;padding-left:18px}li.current{color:#1a73e8}`;

/** A full page: header with navigation, refreshed every `refreshS` seconds (0: never). */
export function page(title: string, body: string, refreshS = 10): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)} · Outpost</title>
${refreshS > 0 ? `<meta http-equiv="refresh" content="${refreshS}">` : ''}
<meta name="viewport" content="width=device-width,initial-scale=1"><style>${STYLE}</style></head>
<body><header><strong>Outpost</strong><a href="/dashboard">Fleet</a><a href="/dashboard/rollouts">Rollouts</a>
<a href="/dashboard/federated">Federated</a><a href="/dashboard/drift">Drift</a><a href="/metrics">Metrics</a></header>
<main><h1>${esc(title)}</h1>${body}</main></body></html>`;
}
