/** A stream progress bars draw on (process.stderr by default). */
export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** A progress bar for long work (push, download, simulate, quantize). */
export interface Progress {
  /** Sets how much is done (and the total when it becomes known); `note` shows after the bar. */
  update(done: number, total?: number, note?: string): void;
  /** Ends the bar: clears its line and prints `message` (if any) on its own line. */
  finish(message?: string): void;
}

/** Options of {@link createProgress}. */
export interface ProgressOptions {
  /** Where to draw; default `process.stderr` (never stdout, which carries results and --json). */
  stream?: ProgressStream;
  /** Draw at all; default: only when the stream is a TTY. Pass false for --json. */
  enabled?: boolean;
  /** `bytes` shows done/total as KiB/MiB; `count` as plain numbers (default). */
  unit?: 'bytes' | 'count';
  /** Fewest ms between two redraws; default 100. */
  intervalMs?: number;
  now?: () => number;
}

/** Bytes as B / KiB / MiB / GiB with one decimal. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

/**
 * A progress bar on stderr, only on a TTY: `label [#####-----]  42%
 * 4.2 MiB/10.0 MiB note`, redrawn in place (`\r`, line cleared) at most every `intervalMs`,
 * sized to the terminal width. When disabled every call is a no-op, so callers never branch.
 * Without a total it shows the amount done and a spinner.
 */
export function createProgress(label: string, options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr;
  const enabled = options.enabled ?? stream.isTTY === true;
  if (!enabled) return { update: () => undefined, finish: () => undefined };
  const now = options.now ?? Date.now;
  const interval = options.intervalMs ?? 100;
  const fmt = (n: number) => (options.unit === 'bytes' ? formatBytes(n) : String(n));
  let last = Number.NEGATIVE_INFINITY;
  let spin = 0;
  let drawn = false;
  const draw = (done: number, total: number | undefined, note: string | undefined) => {
    const width = Math.max(40, Math.min(stream.columns ?? 80, 120));
    const tail = `${total === undefined ? fmt(done) : `${fmt(done)}/${fmt(total)}`}${note ? ` ${note}` : ''}`;
    let bar: string;
    if (total !== undefined && total > 0) {
      const ratio = Math.min(1, Math.max(0, done / total));
      const cells = Math.max(10, Math.min(40, width - label.length - tail.length - 10));
      const full = Math.round(ratio * cells);
      bar = `[${'#'.repeat(full)}${'-'.repeat(cells - full)}] ${String(Math.floor(ratio * 100)).padStart(3)}%`;
    } else bar = '|/-\\'[spin++ % 4] as string;
    stream.write(`\r\x1b[2K${`${label} ${bar} ${tail}`.slice(0, width - 1)}`);
    drawn = true;
  };
  let state: { done: number; total: number | undefined; note: string | undefined } = {
    done: 0,
    total: undefined,
    note: undefined,
  };
  return {
    update(done, total, note) {
      state = { done, total: total ?? state.total, note };
      const t = now();
      const complete = state.total !== undefined && done >= state.total;
      if (t - last < interval && !complete) return;
      last = t;
      draw(state.done, state.total, state.note);
    },
    finish(message) {
      if (drawn) stream.write('\r\x1b[2K');
      if (message) stream.write(`${message}\n`);
    },
  };
}
