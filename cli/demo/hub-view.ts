import { type HubEndpoint, hubRequest } from '../hub-client.js';

/** The part of the hub's device listing the demo reads. */
export interface HubDevice {
  id: string;
  online: boolean;
  desiredRev?: number | null;
  reported?: { appliedRev?: number } | null;
}

export async function listDevices(hub: HubEndpoint): Promise<HubDevice[]> {
  return (await hubRequest<{ devices: HubDevice[] }>(hub, 'GET', '/v1/devices')).devices;
}

interface EventPage {
  events: Array<{ seq: number; body: unknown }>;
  next?: string | number | null;
}

/** Every stored event of one lane of a device, following the hub's pagination. */
export async function allEvents(
  hub: HubEndpoint,
  deviceId: string,
  lane: string,
): Promise<EventPage['events']> {
  const out: EventPage['events'] = [];
  let after: string | number | undefined;
  for (;;) {
    const query = new URLSearchParams({
      lane,
      limit: '5000',
      ...(after === undefined ? {} : { after: String(after) }),
    });
    const page = await hubRequest<EventPage>(hub, 'GET', `/v1/devices/${deviceId}/events?${query}`);
    out.push(...page.events);
    if (page.next === undefined || page.next === null || page.events.length === 0) return out;
    after = page.next;
  }
}

/** The hub's ingest counters. */
export async function ingestStats(hub: HubEndpoint): Promise<{ stored: number; duplicates: number }> {
  const stats = await hubRequest<{ ingest: { stored: number; duplicates: number } }>(hub, 'GET', '/v1/stats');
  return stats.ingest;
}
