import { terminalSafe } from './terminal-text.js';

/** One column of {@link renderTable}. */
export interface Column<Row> {
  header: string;
  /** The cell text of a row. */
  value: (row: Row) => string | number | null | undefined;
  /** `right` for numbers; default `left`. */
  align?: 'left' | 'right';
  /** Longest cell, characters; longer cells end in `…`. Default: no limit. */
  max?: number;
}

/**
 * Renders rows as an aligned plain-text table for terminals: a header line,
 * columns two spaces apart, numbers right-aligned where asked, long cells cut with `…`,
 * no trailing spaces. `null`/`undefined` cells are empty. With no rows, prints `empty`
 * (default "(none)") under the header so the output never looks truncated.
 */
export function renderTable<Row>(
  columns: ReadonlyArray<Column<Row>>,
  rows: readonly Row[],
  empty = '(none)',
): string {
  const cell = (c: Column<Row>, r: Row) => {
    const raw = c.value(r);
    const text = raw === null || raw === undefined ? '' : terminalSafe(String(raw).replace(/\s+/g, ' '));
    return c.max !== undefined && text.length > c.max ? `${text.slice(0, Math.max(0, c.max - 1))}…` : text;
  };
  const cells = rows.map((r) => columns.map((c) => cell(c, r)));
  const widths = columns.map((c, i) =>
    Math.max(c.header.length, ...cells.map((row) => (row[i] ?? '').length)),
  );
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => (columns[i]?.align === 'right' ? v.padStart(widths[i] ?? 0) : v.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const out = [line(columns.map((c) => c.header)), ...cells.map(line)];
  if (rows.length === 0) out.push(empty);
  return out.join('\n');
}
