import type { Logger } from 'pino';
import { LANES, type Lane } from '../../shared/index.js';
import { retentionPlan } from '../federated/retention.js';
import type { EventLaneRef, LearningKeep } from '../store/event-retention-types.js';
import type { HubStore } from '../store/types.js';
import type { EventRetentionConfig } from './config.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Lanes read from the store per page while a pass walks them. */
const LANE_PAGE = 500;

/** What one pass deleted, by lane. */
export interface EventPruneReport {
  /** Lanes `(device, epoch, lane)` looked at. */
  lanes: number;
  deleted: number;
  byLane: Partial<Record<Lane, number>>;
}

/** What {@link EventRetention} needs. */
export interface EventRetentionDeps {
  store: Pick<HubStore, 'listEventLanes' | 'pruneEvents' | 'listFlTasks'>;
  log: Logger;
  config: EventRetentionConfig;
  /** Hub wall clock, ms (injectable: tests age events without waiting days). */
  now: () => number;
  /** Whether this replica runs the passes now (the `events` lease); default always. */
  shouldDrive?: () => Promise<boolean>;
  /** Sees every pass's deletions (the hub's counters). */
  onPruned?: (report: EventPruneReport) => void;
}

/** Each lane's limit in ms, or undefined when its events are kept forever. */
export function laneLimitsMs(config: EventRetentionConfig): Record<Lane, number | undefined> {
  const out = {} as Record<Lane, number | undefined>;
  for (const lane of LANES) {
    const days = config.lanes[lane] ?? config.maxAgeDays;
    out[lane] = days === undefined ? undefined : days * DAY_MS;
  }
  return out;
}

/**
 * The learning events a running task may still take, beyond the rounds open now (the store
 * keeps those itself): a sync task's current round and later, an async task's versions within
 * `maxStaleness`, the same bound under which federated retention keeps incomplete updates.
 */
export function learningKeep(tasks: Parameters<typeof retentionPlan>[0][]): LearningKeep[] {
  return tasks
    .filter((t) => t.status === 'running')
    .map((t) => ({ task: t.id, fromRound: retentionPlan(t, 1).chunks.incompleteBefore }));
}

/**
 * Bounded disk for uplink events: every `intervalMinutes`, and when the hub starts, the events
 * older than their lane's limit that every reader has consumed are deleted, lane by lane, in
 * batches of at most `batchRows` (the rule of what a reader still needs is the store's,
 * `EventRetentionStore.pruneEvents`). With no limit configured nothing runs. With replicas the
 * holder of the `events` lease runs the passes; the deletes are idempotent besides.
 */
export class EventRetention {
  readonly #d: EventRetentionDeps;
  #timer: NodeJS.Timeout | undefined;
  #run: Promise<void> | undefined;
  #closed = false;
  #deleted = 0;

  constructor(deps: EventRetentionDeps) {
    this.#d = deps;
  }

  /** Whether any lane has a limit (else passes delete nothing and are not scheduled). */
  get enabled(): boolean {
    return Object.values(laneLimitsMs(this.#d.config)).some((ms) => ms !== undefined);
  }

  /** Events deleted by this hub since it started. */
  deleted(): number {
    return this.#deleted;
  }

  /** Runs a pass now and every `intervalMinutes` (nothing when no limit is set). */
  start(): void {
    if (!this.enabled || this.#closed) return;
    this.request();
    this.#timer = setInterval(() => this.request(), this.#d.config.intervalMinutes * 60_000);
    this.#timer.unref();
  }

  /** Asks for a background pass (merged with one in progress); returns at once. */
  request(): void {
    if (this.#closed || this.#run) return;
    this.#run = this.#pass().finally(() => {
      this.#run = undefined;
    });
  }

  /** Resolves once no pass runs. */
  async idle(): Promise<void> {
    while (this.#run) await this.#run;
  }

  /** Stops the timer and waits for the pass in progress (its current batch ends it). */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.idle();
  }

  async #pass(): Promise<void> {
    try {
      if (this.#d.shouldDrive && !(await this.#d.shouldDrive())) return;
      await this.pruneAll();
    } catch (err) {
      // The next pass deletes what this one left; nothing is lost by waiting.
      this.#d.log.warn({ err }, 'event retention pass failed; retried at the next one');
    }
  }

  /** One pass over every lane now; what it deleted (also logged at info and counted). */
  async pruneAll(): Promise<EventPruneReport> {
    const { store, config, log } = this.#d;
    const report: EventPruneReport = { lanes: 0, deleted: 0, byLane: {} };
    const limits = laneLimitsMs(config);
    if (!this.enabled) return report;
    const now = this.#d.now();
    const keep = learningKeep(await store.listFlTasks());
    let after: EventLaneRef | undefined;
    for (;;) {
      const page = await store.listEventLanes(after, LANE_PAGE);
      for (const ref of page) {
        const limitMs = limits[ref.lane];
        if (limitMs === undefined || this.#closed) continue;
        report.lanes++;
        const n = await this.#pruneLane(ref, now - limitMs, keep);
        if (n > 0) {
          report.deleted += n;
          report.byLane[ref.lane] = (report.byLane[ref.lane] ?? 0) + n;
        }
      }
      after = page.at(-1);
      if (page.length < LANE_PAGE || this.#closed) break;
    }
    this.#deleted += report.deleted;
    this.#d.onPruned?.(report);
    log.info(
      { lanes: report.lanes, deleted: report.deleted, byLane: report.byLane },
      'event retention: old consumed events deleted',
    );
    return report;
  }

  async #pruneLane(ref: EventLaneRef, receivedBefore: number, keep: LearningKeep[]): Promise<number> {
    let afterSeq = 0;
    let deleted = 0;
    for (;;) {
      const r = await this.#d.store.pruneEvents(ref, {
        receivedBefore,
        afterSeq,
        keep,
        limit: this.#d.config.batchRows,
      });
      deleted += r.deleted;
      afterSeq = r.lastSeq;
      if (r.done || this.#closed) return deleted;
    }
  }
}
