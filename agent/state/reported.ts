import { arch, hostname, platform } from 'node:os';
import type { Logger } from 'pino';
import {
  type AgentUpdateReport,
  type DesiredOutcome,
  type InferenceReport,
  type LedgerReport,
  type ModelDeliveryReport,
  PROTOCOL,
  type ReportedState,
  ReportedStateSchema,
} from '../../shared/index.js';
import type { EffectiveSettings } from '../desired/reconciler.js';
import type { LaneCounters } from '../store/index.js';
import { AGENT_VERSION } from '../version.js';

/** What the reported state is made of. */
export interface ReportInput {
  at: number;
  epoch: string;
  startedAt: number;
  appliedRev: number;
  outcome: DesiredOutcome | undefined;
  config: EffectiveSettings;
  outbox: Record<string, LaneCounters>;
  /** The loss ledger per lane. */
  ledger?: LedgerReport;
  /** Profile, models and engines, cache counters. */
  inference?: InferenceReport;
  /** Model delivery per model. */
  models?: ModelDeliveryReport[];
  /** The MQTT link's last error, null when none. */
  linkLastError?: string | null;
  /** How the agent is updated and where its update stands. */
  update?: AgentUpdateReport;
  /** Federated learning: whether rounds' weights may come as artifacts (hub/federated/round-open.ts). */
  federated?: { artifacts: boolean };
  /**
   * False while the hub may be of the previous release (it has not shown that it reads `pv`):
   * fields added since then are left out, since that release reads some parts of the
   * reported state strictly and would drop all of it for one field it does not know.
   */
  hubReadsCurrent?: boolean;
}

/**
 * The inference report as a hub of the previous release reads it: its per-model entries are
 * strict there, so `warmup` (added since) is left out.
 */
function forPreviousRelease(report: InferenceReport): InferenceReport {
  return { ...report, models: report.models.map(({ warmup: _added, ...model }) => model) };
}

/** The host description sent with every report. */
export function hostInfo(): { platform: string; arch: string; hostname: string } {
  return { platform: platform(), arch: arch(), hostname: hostname().slice(0, 256) };
}

/** Builds and validates the reported state (`outpost/v1/d/{id}/state`, ReportedStateSchema). */
export function buildReportedState(input: ReportInput): ReportedState {
  const state = {
    v: 1,
    // Always stated here: every hub reads the reported state loosely, so this is how a hub
    // learns that this agent reads `pv` (docs/compatibility.md).
    pv: PROTOCOL,
    at: input.at,
    agentVersion: AGENT_VERSION,
    epoch: input.epoch,
    startedAt: input.startedAt,
    appliedRev: input.appliedRev,
    ...(input.outcome ? { desired: input.outcome } : {}),
    config: input.config,
    outbox: input.outbox,
    ...(input.ledger ? { ledger: input.ledger } : {}),
    host: hostInfo(),
    ...(input.inference
      ? { inference: input.hubReadsCurrent === false ? forPreviousRelease(input.inference) : input.inference }
      : {}),
    ...(input.models && input.models.length > 0 ? { models: input.models } : {}),
    ...(input.linkLastError === undefined || input.hubReadsCurrent === false
      ? {}
      : { link: { lastError: input.linkLastError?.slice(0, 1024) ?? null } }),
    ...(input.update ? { update: input.update } : {}),
    // A top-level field: every release reads the top level loosely and keeps it.
    ...(input.federated ? { federated: input.federated } : {}),
  };
  return ReportedStateSchema.parse(state);
}

/** Options of the {@link StateReporter}. */
export interface ReporterOptions {
  /** The encoded reported state, built fresh at each call. */
  encode(): Buffer;
  /** Publishes it retained at QoS 1; false while the link is down. */
  publish(payload: Buffer): boolean;
  log: Logger;
}

/**
 * Publishes the reported state: on demand (on connect, after applying desired
 * state, on the `report-state` command) and every `reportIntervalS` seconds while up.
 */
export class StateReporter {
  readonly #o: ReporterOptions;
  #timer: NodeJS.Timeout | undefined;
  #intervalS = 0;
  #stopped = false;

  constructor(options: ReporterOptions) {
    this.#o = options;
  }

  /** Publishes now; false when the link is down or the state cannot be built (logged). */
  publishNow(reason: string): boolean {
    try {
      const sent = this.#o.publish(this.#o.encode());
      if (sent) this.#o.log.debug({ reason }, 'reported state published');
      return sent;
    } catch (err) {
      this.#o.log.error({ err, reason }, 'reported state not published');
      return false;
    }
  }

  /** (Re)starts the periodic report, every `seconds` s; unchanged interval keeps the timer. */
  setIntervalS(seconds: number): void {
    if (this.#stopped || (seconds === this.#intervalS && this.#timer)) return;
    if (this.#timer) clearInterval(this.#timer);
    this.#intervalS = seconds;
    this.#timer = setInterval(() => this.publishNow('interval'), seconds * 1000);
  }

  /** The period in force, s (0 before {@link setIntervalS}). */
  get intervalS(): number {
    return this.#intervalS;
  }

  /** Stops the periodic report. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
