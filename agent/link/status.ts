import { randomBytes } from 'node:crypto';
import type { IClientOptions } from 'mqtt';
import { deviceTopic, encodeMessage, type Status, StatusSchema } from '../../shared/index.js';

/** A fresh connection id (`StatusSchema.conn`): 9 random bytes, base64url. */
export function newConnId(): string {
  return randomBytes(9).toString('base64url');
}

/** The encoded `{ v: 1, state, conn, at }` status payload. */
export function statusPayload(state: Status['state'], conn: string, at: number): Buffer {
  return encodeMessage(StatusSchema, { v: 1, state, conn, at });
}

/**
 * The last will of one connection attempt: `offline` with that attempt's `conn`, retained,
 * QoS 1, on the device's `status` topic; `at` is when the attempt was opened.
 */
export function lastWill(
  deviceId: string,
  conn: string,
  openedAt: number,
): NonNullable<IClientOptions['will']> {
  return {
    topic: deviceTopic(deviceId, 'status'),
    payload: statusPayload('offline', conn, openedAt),
    qos: 1,
    retain: true,
  };
}
