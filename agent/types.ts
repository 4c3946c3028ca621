import type { DesiredOutcome, InferenceReport, Lane, LaneLedger } from '../shared/index.js';
import type { AgentModels } from './inference/models-api.js';
import type { HubProtocolStats } from './link/hub-version.js';
import type { InvalidInboundStats } from './link/inbound.js';
import type { LinkInfo } from './link/mqtt-link.js';
import type { DiskSpace } from './outbox/disk-headroom.js';
import type { LaneCounters } from './store/index.js';

export type { InvalidInboundStats } from './link/inbound.js';
export type { LinkInfo } from './link/mqtt-link.js';
export type { LaneCounters } from './store/index.js';

/** An event handed to {@link Agent.enqueue}. */
export interface AgentEvent {
  /** Event type: 1-64 of `[a-z0-9._-]`, starting with a letter (LabelSchema). */
  type: string;
  /** Any JSON value. */
  body: unknown;
  /** Outbox lane; `telemetry` when absent. */
  lane?: Lane;
}

/** Where an event was stored: its lane and its per-lane sequence number. */
export interface Enqueued {
  lane: Lane;
  seq: number;
}

/** The agent's status: what `GET /v1/status` returns. */
export interface AgentStatus {
  deviceId: string;
  /** Random id of the store. */
  epoch: string;
  /** Agent start time, ms. */
  startedAt: number;
  link: LinkInfo;
  /**
   * Per lane: events waiting for the hub's ack, ever enqueued, acknowledged, lost, dropped
   * but unconfirmed, and bytes waiting.
   */
  outbox: Record<Lane, LaneCounters>;
  /** The loss ledger per lane: lost per reason (count, bytes), and unconfirmed drops. */
  ledger: Record<Lane, LaneLedger>;
  desired: {
    /** Highest desired rev applied; 0 before any. */
    appliedRev: number;
    /** Outcome of the latest desired document received, or null. */
    outcome: DesiredOutcome | null;
  };
  /** Invalid inbound payloads; the hub's protocol version, its refusals, what was tolerated. */
  inbound: { invalid: InvalidInboundStats; protocol: HubProtocolStats };
  /** Firmware profile, models with chosen and rejected engines, result-cache counters. */
  inference: InferenceReport;
  /** What keeps this agent from doing its job (e.g. no keys to verify models with); empty when none. */
  warnings: string[];
  /** The data dir's free space, and the reserve below which new events are refused. */
  disk: DiskSpace;
}

/** A running agent (see `createAgent`). */
export interface Agent {
  readonly deviceId: string;
  /** Random id of this store (base64url), made at its first migration. */
  readonly epoch: string;
  /** The local HTTP API. */
  readonly api: { url: string; port: number };
  /**
   * Stores an event in the outbox; durable (per `durability`) when it returns. Throws
   * OutpostError `AGENT_BAD_REQUEST` (invalid), `PROTO_PAYLOAD_TOO_LARGE`, `AGENT_CLOSED`,
   * `AGENT_OUTBOX_FULL` (its lane is full under the `back-pressure` policy).
   */
  enqueue(event: AgentEvent): Enqueued;
  /** Models: install from a local file, activate, list, infer, policies (= the local API). */
  readonly models: AgentModels;
  /** The same object `GET /v1/status` returns. */
  status(): AgentStatus;
  /**
   * Stops timers and the outbox drain, publishes the retained `offline` status, disconnects
   * cleanly, closes the API and the store. Idempotent.
   */
  close(): Promise<void>;
}
