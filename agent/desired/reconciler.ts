import type { Logger } from 'pino';
import type { DesiredOutcome, DesiredState, LogLevel, RemoteConfig } from '../../shared/index.js';
import type { DesiredStore } from '../store/index.js';

/** The remote-configurable settings in force: the applied desired config over the agent's own. */
export interface EffectiveSettings {
  logLevel: LogLevel;
  reportIntervalS: number;
  labels?: Record<string, string>;
}

/** Options of the {@link DesiredReconciler}. */
export interface ReconcilerOptions {
  store: DesiredStore;
  /** The agent's own settings, in force where the desired config is silent. */
  defaults: { logLevel: LogLevel; reportIntervalS: number };
  /** Puts settings in force (log level, report timer). Called at start and on every apply. */
  apply(settings: EffectiveSettings): void;
  log: Logger;
  now?: () => number;
}

const MAX_REASON = 1024;

/**
 * Reconciles the device to the hub's desired state. A rev above the applied rev is
 * applied and persisted (rev, document and outcome in one statement); an equal rev (the
 * retained document redelivered on every connect) needs nothing; a lower rev is `stale`; an
 * invalid document is `rejected` when its rev can be read. The applied document survives a
 * restart: the store is read back at construction.
 */
export class DesiredReconciler {
  readonly #o: ReconcilerOptions;
  readonly #now: () => number;
  #appliedRev: number;
  #doc: DesiredState | undefined;
  #outcome: DesiredOutcome | undefined;

  constructor(options: ReconcilerOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    const record = options.store.load();
    this.#appliedRev = record.appliedRev;
    this.#doc = record.doc;
    this.#outcome = record.outcome;
  }

  /** Highest rev applied; 0 before any. */
  get appliedRev(): number {
    return this.#appliedRev;
  }

  /** The applied document (also across restarts), if any. */
  get doc(): DesiredState | undefined {
    return this.#doc;
  }

  /** Outcome of the latest desired document received (also across restarts). */
  get outcome(): DesiredOutcome | undefined {
    return this.#outcome;
  }

  /** The settings in force. */
  effective(): EffectiveSettings {
    return effectiveSettings(this.#o.defaults, this.#doc?.config);
  }

  /** Puts the settings in force (call once at start). */
  applyCurrent(): void {
    this.#o.apply(this.effective());
  }

  /** Handles a valid desired document; true when the outcome changed (report it). */
  onDesired(doc: DesiredState): boolean {
    if (doc.rev === this.#appliedRev) return false;
    if (doc.rev < this.#appliedRev) {
      const reason = `rev ${doc.rev} is older than the applied rev ${this.#appliedRev}`;
      this.#o.log.warn({ rev: doc.rev, appliedRev: this.#appliedRev }, 'stale desired state ignored');
      this.#record({ rev: doc.rev, status: 'stale', reason, at: this.#now() });
      return true;
    }
    const outcome: DesiredOutcome = { rev: doc.rev, status: 'applied', at: this.#now() };
    this.#o.store.saveApplied(doc, outcome);
    this.#appliedRev = doc.rev;
    this.#doc = doc;
    this.#outcome = outcome;
    const settings = this.effective();
    this.#o.apply(settings);
    this.#o.log.info({ rev: doc.rev, settings }, 'desired state applied');
    return true;
  }

  /**
   * Handles a desired document that failed validation: `rejected` with the reason when its
   * rev can be read (true: report it), otherwise nothing (false; the router counted it).
   */
  onInvalid(payload: Buffer, reason: string): boolean {
    const rev = readRev(payload);
    if (rev === undefined) return false;
    this.#o.log.warn({ rev, reason }, 'desired state rejected');
    this.#record({ rev, status: 'rejected', reason: reason.slice(0, MAX_REASON), at: this.#now() });
    return true;
  }

  #record(outcome: DesiredOutcome): void {
    this.#o.store.saveOutcome(outcome);
    this.#outcome = outcome;
  }
}

/** The settings in force: each field of `remote` where present, else the agent's default. */
export function effectiveSettings(
  defaults: { logLevel: LogLevel; reportIntervalS: number },
  remote: RemoteConfig | undefined,
): EffectiveSettings {
  const settings: EffectiveSettings = {
    logLevel: remote?.logLevel ?? defaults.logLevel,
    reportIntervalS: remote?.reportIntervalS ?? defaults.reportIntervalS,
  };
  if (remote?.labels) settings.labels = { ...remote.labels };
  return settings;
}

function readRev(payload: Buffer): number | undefined {
  try {
    const value: unknown = JSON.parse(payload.toString('utf8'));
    if (typeof value !== 'object' || value === null || !('rev' in value)) return undefined;
    const rev = (value as { rev: unknown }).rev;
    return typeof rev === 'number' && Number.isSafeInteger(rev) && rev >= 0 ? rev : undefined;
  } catch {
    return undefined;
  }
}
