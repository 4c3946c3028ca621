import type { AgentEvent } from '../types.js';

/** Event type of one shipped log line in the `telemetry` lane. */
export const LOG_EVENT = 'telemetry.log';

/** Body of a {@link LOG_EVENT}: one warn-or-worse log line, and the lines dropped before it. */
export interface ShippedLogLine {
  level: 'warn' | 'error' | 'fatal';
  /** Wall time of the line, ms. */
  time: number;
  msg: string;
  component?: string;
  /** The error's message when the line carried one. */
  err?: string;
  /** The error code (`shared/errors.ts`) when the line carried one. */
  code?: string;
  /** Lines dropped (over the rate, lane full) since the previous shipped line. */
  dropped: number;
}

const LEVELS: Record<number, ShippedLogLine['level']> = { 40: 'warn', 50: 'error', 60: 'fatal' };
const MAX_TEXT = 1_000;
/** Lines logged before the outbox exists (start-up warnings), kept until it does. */
const MAX_EARLY = 50;

/**
 * A pino destination (`write(line)`) that queues the agent's warn-and-worse log lines in the
 * `telemetry` lane, so `outpost devices logs ID` shows them without a login on the device. At
 * most `maxPerMinute` lines a minute (0 turns shipping off); the rest are counted and the count
 * travels with the next line shipped. A line logged while a line is being enqueued (an enqueue
 * that itself logs) is counted as dropped, never shipped, so shipping cannot loop.
 */
export class LogShipper {
  readonly #maxPerMinute: number;
  readonly #now: () => number;
  #enqueue: ((event: AgentEvent) => void) | undefined;
  readonly #early: ShippedLogLine[] = [];
  #windowStart = 0;
  #inWindow = 0;
  #dropped = 0;
  #busy = false;

  constructor(maxPerMinute: number, now: () => number = Date.now) {
    this.#maxPerMinute = maxPerMinute;
    this.#now = now;
  }

  /** Lines dropped and not yet reported with a shipped line. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Starts shipping into `enqueue` (the outbox), first the lines logged before. */
  attach(enqueue: (event: AgentEvent) => void): void {
    this.#enqueue = enqueue;
    for (const line of this.#early.splice(0)) this.#ship(line);
  }

  /** Stops shipping (the outbox is closing); later lines are dropped. */
  detach(): void {
    this.#enqueue = undefined;
  }

  /** pino's destination interface: one JSON line per call. */
  write(text: string): void {
    if (this.#maxPerMinute === 0) return;
    const line = parseLine(text);
    if (line === undefined) return;
    if (this.#enqueue === undefined) {
      if (this.#early.length < MAX_EARLY) this.#early.push(line);
      else this.#dropped++;
      return;
    }
    this.#ship(line);
  }

  #ship(line: ShippedLogLine): void {
    const now = this.#now();
    if (now - this.#windowStart >= 60_000) {
      this.#windowStart = now;
      this.#inWindow = 0;
    }
    if (this.#busy || this.#inWindow >= this.#maxPerMinute || this.#enqueue === undefined) {
      this.#dropped++;
      return;
    }
    this.#busy = true;
    const reported = this.#dropped;
    try {
      this.#enqueue({ type: LOG_EVENT, lane: 'telemetry', body: { ...line, dropped: reported } });
      this.#inWindow++;
      // Lines dropped while this one was enqueued are reported with the next.
      this.#dropped -= reported;
    } catch {
      // The telemetry lane is full (back-pressure): this line is lost and counted.
      this.#dropped++;
    } finally {
      this.#busy = false;
    }
  }
}

function parseLine(text: string): ShippedLogLine | undefined {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const level = LEVELS[Number(record.level)];
  if (level === undefined) return undefined;
  const err =
    typeof record.err === 'string' ? record.err : (record.err as { message?: unknown } | undefined)?.message;
  return {
    level,
    time: typeof record.time === 'number' ? record.time : Date.now(),
    msg: String(record.msg ?? '').slice(0, MAX_TEXT),
    ...(typeof record.component === 'string' ? { component: record.component } : {}),
    ...(typeof err === 'string' ? { err: err.slice(0, MAX_TEXT) } : {}),
    ...(typeof record.code === 'string' ? { code: record.code.slice(0, 64) } : {}),
    dropped: 0,
  };
}
