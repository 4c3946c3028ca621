import type { DesiredState } from '../../shared/index.js';
import type { DeviceRecord, StoredEvent } from '../store/types.js';

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
}

/** Maps a stored device to its API form. */
export function deviceView(device: DeviceRecord, desired: DesiredState | undefined): DeviceView {
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
  };
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
