import type { Tally } from '../check/invariant.js';

/** Everything known about one finished trial. */
export interface TrialRecord {
  kind: string;
  index: number;
  seed: number;
  faults: string[];
  notes: string[];
  tally: Tally;
  problems: string[];
  evidence: string[];
  ms: number;
}

const COLUMNS = [
  'kind',
  'trials',
  'faults',
  'sent',
  'ingested',
  'dropped',
  'duplicates',
  'lost',
  'result',
] as const;

/** One row per kind: trials, faults injected, summed figures, and pass/FAIL. */
export function summaryTable(records: readonly TrialRecord[], kinds: readonly string[]): string {
  const rows: string[][] = [];
  for (const kind of kinds) {
    const mine = records.filter((r) => r.kind === kind);
    if (mine.length === 0) continue;
    const sum = (key: keyof Tally) => mine.reduce((n, r) => n + r.tally[key], 0);
    const failed = mine.filter((r) => r.problems.length > 0).length;
    rows.push([
      kind,
      String(mine.length),
      String(mine.reduce((n, r) => n + r.faults.length, 0)),
      String(sum('sent')),
      String(sum('ingested')),
      String(sum('dropped')),
      String(sum('duplicates')),
      String(sum('lost')),
      failed === 0 ? 'pass' : `FAIL ${failed}`,
    ]);
  }
  const widths = COLUMNS.map((c, i) => Math.max(c.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(COLUMNS), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** The full story of a failed trial: seed, faults, workload, every violation, evidence. */
export function failureDetails(record: TrialRecord, masterSeed: number): string {
  return [
    `FAILED ${record.kind} #${record.index} (trial seed ${record.seed}, run seed ${masterSeed})`,
    ...record.faults.map((f) => `  fault: ${f}`),
    ...record.notes.map((n) => `  did:   ${n}`),
    ...record.problems.map((p) => `  VIOLATION: ${p}`),
    ...record.evidence.map((e) => `  see:   ${e}`),
    `  replay:  npm run test:faults -- --seed ${masterSeed} --kinds ${record.kind} --trial ${record.index}`,
  ].join('\n');
}

/** One progress line for a finished trial. */
export function trialLine(record: TrialRecord): string {
  const t = record.tally;
  const result = record.problems.length === 0 ? 'ok' : 'FAIL';
  return (
    `${result.padEnd(4)} ${record.kind} #${record.index} (${(record.ms / 1000).toFixed(1)} s) ` +
    `sent ${t.sent} ingested ${t.ingested} dropped ${t.dropped} dup ${t.duplicates} lost ${t.lost}` +
    (record.faults.length > 0 ? ` — ${record.faults.join('; ')}` : '')
  );
}
