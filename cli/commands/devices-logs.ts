import type { ConfigObject } from '../../shared/index.js';
import { CliError, EXIT } from '../exit-codes.js';
import { type HubEndpoint, hubRequest } from '../hub-client.js';
import { terminalSafe } from '../terminal-text.js';

/** Event type the agent ships its warn-and-worse log lines as (agent/telemetry/log-shipper.ts). */
const LOG_EVENT = 'telemetry.log';
/** How often `--follow` asks the hub for new lines, ms. */
const FOLLOW_EVERY_MS = 2_000;

interface LogEvent {
  epoch: string;
  lane: string;
  seq: number;
  type: string;
  body: {
    level?: string;
    time?: number;
    msg?: string;
    component?: string;
    code?: string;
    err?: string;
    dropped?: number;
  };
}

/** One line as printed: time, level, component, message, error, and what was dropped before it. */
export function logLine(e: LogEvent): string {
  const b = e.body;
  const time = typeof b.time === 'number' ? new Date(b.time).toISOString() : '?';
  const parts = [
    time,
    String(b.level ?? '?')
      .toUpperCase()
      .padEnd(5),
    b.component ? `[${b.component}]` : '',
    b.msg ?? '',
    b.code ?? '',
    b.err ? `(${b.err})` : '',
    b.dropped ? `(${b.dropped} earlier lines dropped)` : '',
  ];
  return terminalSafe(parts.filter(Boolean).join(' '));
}

/**
 * `outpost devices logs ID [--follow] [--json]`: the warn-and-worse log lines the device's agent
 * shipped in its telemetry lane, oldest first; `--follow` keeps asking every 2 s until Ctrl-C.
 */
export async function deviceLogs(
  hub: HubEndpoint,
  id: string | undefined,
  flags: ConfigObject,
): Promise<void> {
  if (!id) throw new CliError('devices logs needs a device ID', EXIT.USAGE);
  const path = `/v1/devices/${encodeURIComponent(id)}/events`;
  let after: string | undefined;
  for (;;) {
    for (;;) {
      const query = new URLSearchParams({ lane: 'telemetry', limit: '1000', ...(after ? { after } : {}) });
      const page = await hubRequest<{ events: LogEvent[]; next?: string }>(hub, 'GET', `${path}?${query}`);
      for (const e of page.events) {
        if (e.type !== LOG_EVENT) continue;
        console.log(flags.json === true ? JSON.stringify({ seq: e.seq, ...e.body }) : logLine(e));
      }
      const last = page.events.at(-1);
      if (last) after = `${last.epoch}.${last.lane}.${last.seq}`;
      if (page.next === undefined) break;
    }
    if (flags.follow !== true) return;
    await new Promise((resolve) => setTimeout(resolve, FOLLOW_EVERY_MS));
  }
}
