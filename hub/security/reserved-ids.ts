import { OutpostError } from '../../shared/index.js';

/** Every id starting with this (any case) belongs to the hub: its broker users and client ids. */
export const RESERVED_ID_PREFIX = 'outpost-';

/**
 * Why `id` may not be a device id, or undefined when it may. A device id is also an MQTT
 * user name and client id, so it must never be one the hub or its broker use for themselves:
 * the hub's broker user (`broker.username`) and its replicas' client ids (`{username}-…`),
 * anything starting with `outpost-`, and `$`-prefixed names (the broker's own; the device id
 * pattern already refuses them, this keeps the rule whole). On a NATS broker, `.` too: it
 * separates NATS subject tokens, so nats-server 2.9 refuses it in an MQTT topic and such a
 * device could never connect.
 */
export function reservedIdReason(
  id: string,
  hubUsername: string,
  options: { natsBroker?: boolean } = {},
): string | undefined {
  const lower = id.toLowerCase();
  const hub = hubUsername.toLowerCase();
  if (lower.startsWith('$')) return 'ids starting with $ belong to the broker';
  if (lower === hub || lower.startsWith(`${hub}-`)) return `"${hubUsername}" is the hub's own broker user`;
  if (lower.startsWith(RESERVED_ID_PREFIX)) return `ids starting with "${RESERVED_ID_PREFIX}" are the hub's`;
  if (options.natsBroker && id.includes('.'))
    return `"." separates NATS subject tokens: this hub's NATS broker refuses it in MQTT topics`;
  return undefined;
}

/** Throws `HUB_DEVICE_ID_RESERVED` (400) naming the id and the reason when it is reserved. */
export function assertDeviceIdNotReserved(
  id: string,
  hubUsername: string,
  options: { natsBroker?: boolean } = {},
): void {
  const reason = reservedIdReason(id, hubUsername, options);
  if (reason !== undefined) {
    throw new OutpostError('HUB_DEVICE_ID_RESERVED', `device id "${id}" is reserved: ${reason}`);
  }
}
