import { isDeviceId } from './ids.js';

/** Root of every Outpost topic; the `v1` is the wire protocol's major version. */
export const TOPIC_ROOT = 'outpost/v1/d';

/**
 * Channels a device publishes on (docs/architecture.md "Wire protocol"), plus `ping`, the
 * application-level liveness check answered on `ack` ("dead links").
 */
export const DEVICE_TO_HUB = ['up', 'state', 'status', 'ping'] as const;
/** Channels the hub publishes on, one device each. */
export const HUB_TO_DEVICE = ['ack', 'desired', 'cmd'] as const;

export type UplinkChannel = (typeof DEVICE_TO_HUB)[number];
export type DownlinkChannel = (typeof HUB_TO_DEVICE)[number];
export type Channel = UplinkChannel | DownlinkChannel;

const CHANNELS: readonly string[] = [...DEVICE_TO_HUB, ...HUB_TO_DEVICE];

/** `outpost/v1/d/{deviceId}/{channel}`. Throws on an id that cannot be a topic level. */
export function deviceTopic(deviceId: string, channel: Channel): string {
  if (!isDeviceId(deviceId))
    throw new RangeError(`invalid device id for a topic: ${JSON.stringify(deviceId)}`);
  return `${TOPIC_ROOT}/${deviceId}/${channel}`;
}

/** The filter the hub subscribes to for one channel of every device: `outpost/v1/d/+/{channel}`. */
export function allDevicesFilter(channel: UplinkChannel): string {
  return `${TOPIC_ROOT}/+/${channel}`;
}

export interface ParsedTopic {
  deviceId: string;
  channel: Channel;
}

/** Parses an Outpost device topic; `undefined` for anything else (wildcards included). */
export function parseDeviceTopic(topic: string): ParsedTopic | undefined {
  const parts = topic.split('/');
  if (parts.length !== 5) return undefined;
  const [root, version, d, deviceId, channel] = parts;
  if (`${root}/${version}/${d}` !== TOPIC_ROOT) return undefined;
  if (deviceId === undefined || !isDeviceId(deviceId)) return undefined;
  if (channel === undefined || !CHANNELS.includes(channel)) return undefined;
  return { deviceId, channel: channel as Channel };
}

/** True when `channel` is one a device may publish on. */
export function isUplinkChannel(channel: Channel): channel is UplinkChannel {
  return (DEVICE_TO_HUB as readonly string[]).includes(channel);
}

/** True when `channel` is one a device may subscribe to. */
export function isDownlinkChannel(channel: Channel): channel is DownlinkChannel {
  return (HUB_TO_DEVICE as readonly string[]).includes(channel);
}
