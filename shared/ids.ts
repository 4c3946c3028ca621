import { z } from 'zod';

/**
 * A device id is also its MQTT client id, its MQTT username and one topic level, so it
 * must never contain `/`, `+`, `#` or anything a broker treats specially: 1–64 characters
 * of `[A-Za-z0-9._-]`, starting with a letter or digit.
 */
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const DeviceIdSchema = z
  .string()
  .regex(DEVICE_ID_PATTERN, 'device id must be 1-64 of [A-Za-z0-9._-], starting with a letter or digit');

export type DeviceId = z.infer<typeof DeviceIdSchema>;

/** True when `value` is a valid device id. */
export function isDeviceId(value: string): boolean {
  return DEVICE_ID_PATTERN.test(value);
}
