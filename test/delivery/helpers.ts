/** Helpers of the delivery tests (issue 5): pushing artifacts over the real admin HTTP API. */
import type { Hub } from '../../hub/index.js';

/** Pushes an artifact with `POST /v1/models/:name/versions/:version` (octet-stream body). */
export async function pushModel(
  hub: Hub,
  name: string,
  version: string,
  bytes: Uint8Array,
  query: Record<string, string> = {},
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
): Promise<{ status: number; body: any }> {
  const qs = new URLSearchParams(query).toString();
  const res = await fetch(`${hub.http.url}/v1/models/${name}/versions/${version}${qs ? `?${qs}` : ''}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${hub.adminToken}`, 'content-type': 'application/octet-stream' },
    body: bytes,
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}

/** `Authorization: Basic` for a device. */
export function basicAuth(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
}

/** A model's delivery report as the hub last stored it from the device's reported state. */
// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
export async function modelReport(hub: Hub, deviceId: string, name: string): Promise<any> {
  const device = await hub.store.getDevice(deviceId);
  const models = (device?.reported as { models?: Array<{ name: string }> } | null)?.models ?? [];
  return models.find((m) => m.name === name);
}
