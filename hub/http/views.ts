import {
  type DesiredState,
  LANES,
  type Lane,
  LedgerReportSchema,
  type LossTotal,
  StoreEpochSchema,
} from '../../shared/index.js';
import { DISABLED_PREFIX, removedAt } from '../store/device-lifecycle-types.js';
import type { DeviceRecord, SkipTotal, StoredEvent } from '../store/types.js';

/** A device as the admin API shows it (never the secret hash). Times in ms. */
export interface DeviceView {
  id: string;
  name: string | null;
  labels: Record<string, string>;
  online: boolean;
  lastSeen: number | null;
  reported: unknown;
  reportedAt: number | null;
  /** Latest desired revision, 0 when none was ever set. */
  desiredRev: number;
  createdAt: number;
  /** Disabled devices are refused at every connect; their data is kept. */
  disabled: boolean;
  /** When the device was removed with its data kept (only such a device has it). */
  removedAt?: number;
  /** Connections that took over a live session of this device id since the hub started. */
  clientIdConflicts: number;
}

/** Maps a stored device to its API form. */
export function deviceView(
  device: DeviceRecord,
  desired: DesiredState | undefined,
  clientIdConflicts = 0,
): DeviceView {
  return {
    id: device.id,
    name: device.name,
    labels: device.labels,
    online: device.online,
    lastSeen: device.lastSeen,
    reported: device.reported,
    reportedAt: device.reportedAt,
    desiredRev: desired?.rev ?? 0,
    createdAt: device.createdAt,
    disabled: device.secretHash.startsWith(DISABLED_PREFIX),
    ...removedView(device.secretHash),
    clientIdConflicts,
  };
}

function removedView(secretHash: string): { removedAt?: number } {
  const at = removedAt(secretHash);
  return at === null ? {} : { removedAt: at };
}

/** An event as the admin API shows it. */
export interface EventView {
  epoch: string;
  lane: string;
  seq: number;
  type: string;
  at: number;
  body: unknown;
  receivedAt: number;
}

/** Maps a stored event to its API form. */
export function eventView(event: StoredEvent): EventView {
  return {
    epoch: event.epoch,
    lane: event.lane,
    seq: event.seq,
    type: event.type,
    at: event.at,
    body: event.body,
    receivedAt: event.receivedAt,
  };
}

/** The loss ledger of one lane as `GET /v1/devices/{id}` shows it. */
export interface LaneLedgerView {
  /** Events lost because the lane was full (drop-oldest), as the device counts them. */
  quota: LossTotal;
  /** Events lost because they outlived the lane's TTL, as the device counts them. */
  ttl: LossTotal;
  /** Dropped by the device, waiting for the hub's word on whether it already had them. */
  unconfirmed: number;
  /**
   * Seqs the hub skipped over for this lane because the device dropped them. Equals
   * `quota.count + ttl.count` once the device has reported after its last drop was answered.
   */
  skippedAtHub: number;
}

/** The loss ledger of a device. */
export interface LedgerView {
  /** The store epoch the device last reported; null before its first report. */
  epoch: string | null;
  /** Hub time of that report, ms; null before it. */
  reportedAt: number | null;
  lanes: Record<Lane, LaneLedgerView>;
}

/**
 * Combines the ledger the device reports (cumulative, in its reported state) with what the
 * hub itself skipped, for the device's current epoch (every epoch before its first report).
 */
export function ledgerView(device: DeviceRecord, skips: SkipTotal[]): LedgerView {
  const reported = (device.reported ?? {}) as { epoch?: unknown; ledger?: unknown };
  const epoch = StoreEpochSchema.safeParse(reported.epoch);
  const ledger = LedgerReportSchema.safeParse(reported.ledger);
  const zero = (): LossTotal => ({ count: 0, bytes: 0 });
  const lanes = Object.fromEntries(
    LANES.map((lane) => {
      const lost = ledger.success ? ledger.data[lane] : undefined;
      const skippedAtHub = skips
        .filter((s) => s.lane === lane && (!epoch.success || s.epoch === epoch.data))
        .reduce((sum, s) => sum + s.count, 0);
      const view: LaneLedgerView = {
        quota: lost?.quota ?? zero(),
        ttl: lost?.ttl ?? zero(),
        unconfirmed: lost?.unconfirmed ?? 0,
        skippedAtHub,
      };
      return [lane, view];
    }),
  ) as Record<Lane, LaneLedgerView>;
  return {
    epoch: epoch.success ? epoch.data : null,
    reportedAt: ledger.success && device.reported !== null ? device.reportedAt : null,
    lanes,
  };
}
