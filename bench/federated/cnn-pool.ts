import { type ChildProcess, spawn } from 'node:child_process';
import { entryPoint } from '../lib/entry-point.js';
import type { CnnAnswer, CnnCall, CnnJob } from './cnn-job.js';
import type { RunOutcome } from './cnn-protocol.js';

const WORKER = entryPoint('../federated/cnn-worker');

/** One worker process and the job it has in hand. */
class Worker {
  private pending:
    | { id: number; job: CnnJob; resolve(o: RunOutcome): void; reject(e: Error): void }
    | undefined;
  private exited: string | undefined;
  readonly gone: Promise<void>;

  constructor(
    private readonly child: ChildProcess,
    onRound: (job: CnnJob, round: number, accuracy: number) => void,
  ) {
    this.gone = new Promise((r) => child.once('exit', () => r()));
    child.on('message', (a: CnnAnswer) => {
      const p = this.pending;
      if (p === undefined || p.id !== a.id) return;
      if ('round' in a) onRound(p.job, a.round, a.accuracy);
      else {
        this.pending = undefined;
        if (a.ok) p.resolve(a.outcome);
        else p.reject(new Error(`CNN worker: ${a.error}`));
      }
    });
    child.once('exit', (code, signal) => {
      this.exited = `CNN worker exited (${signal ?? `code ${code}`})`;
      this.pending?.reject(new Error(this.exited));
      this.pending = undefined;
    });
  }

  run(id: number, job: CnnJob): Promise<RunOutcome> {
    if (this.exited !== undefined) return Promise.reject(new Error(this.exited));
    return new Promise((resolve, reject) => {
      this.pending = { id, job, resolve, reject };
      this.child.send({ id, job } satisfies CnnCall);
    });
  }

  close(): Promise<void> {
    // Nothing to flush: a worker holds no state worth keeping once its outcome is sent.
    if (this.exited === undefined) this.child.kill('SIGTERM');
    return this.gone;
  }
}

/**
 * Up to `size` worker processes, started as jobs need them; jobs beyond them wait in order of
 * arrival. Each run is one process on one core, so independent runs (the two methods' grids,
 * the seeds after the choice, the two partitions) use the cores side by side.
 */
export class CnnPool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly waiting: Array<{ resolve(w: Worker): void; reject(e: Error): void }> = [];
  private nextId = 0;
  private closed = false;

  constructor(
    readonly size: number,
    private readonly onRound: (job: CnnJob, round: number, accuracy: number) => void = () => {},
  ) {}

  async run(job: CnnJob): Promise<RunOutcome> {
    const worker = await this.acquire();
    try {
      return await worker.run(this.nextId++, job);
    } finally {
      this.release(worker);
    }
  }

  private acquire(): Promise<Worker> {
    if (this.closed) return Promise.reject(new Error('CNN pool closed'));
    const free = this.idle.pop();
    if (free !== undefined) return Promise.resolve(free);
    if (this.workers.length < this.size) {
      const worker = new Worker(
        // The worker's stdout goes to stderr with the progress: stdout is the report.
        spawn(process.execPath, [...WORKER.execArgv, WORKER.file], { stdio: ['ignore', 2, 2, 'ipc'] }),
        this.onRound,
      );
      this.workers.push(worker);
      return Promise.resolve(worker);
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private release(worker: Worker): void {
    const next = this.waiting.shift();
    if (next !== undefined) next.resolve(worker);
    else this.idle.push(worker);
  }

  /** Ends every worker; jobs still waiting for one are refused. */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.reject(new Error('CNN pool closed'));
    await Promise.all(this.workers.map((w) => w.close()));
  }
}
