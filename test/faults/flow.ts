import type { Socket } from 'node:net';

/**
 * What one direction of a proxied connection does with its bytes:
 * - `pass`: forward as fast as the sink takes them;
 * - `stall`: forward nothing and stop reading (TCP back-pressure fills the sender's buffers);
 *   everything held is delivered, in order, once the mode changes back;
 * - `blackhole`: read and discard, never answer, never close — a partition without FIN or
 *   RST. Sticky: bytes once discarded cannot be put back into a TCP stream, so a direction
 *   that was blackholed stays so for the life of that connection;
 * - `throttle`: forward at most `bytesPerS` bytes per second (token bucket, 50 ms slices).
 */
export type FlowMode =
  | { kind: 'pass' }
  | { kind: 'stall' }
  | { kind: 'blackhole' }
  | { kind: 'throttle'; bytesPerS: number };

/** Bytes counted by one direction. */
export interface FlowCounters {
  /** Bytes written to the sink. */
  forwarded: number;
  /** Bytes discarded by a blackhole. */
  dropped: number;
}

/** Queue size above which the source stops being read while throttled, bytes. */
const THROTTLE_HIGH_WATER = 64 * 1024;
/** Throttle tick, ms: tokens are granted in slices of this length. */
const THROTTLE_TICK_MS = 50;

/**
 * One direction (`source` → `sink`) of a proxied connection. The proxy owns the sockets;
 * a Flow only moves bytes and propagates the end of the stream (FIN after the queued bytes,
 * an abrupt close at once) unless it is blackholed.
 */
export class Flow {
  readonly #source: Socket;
  readonly #sink: Socket;
  readonly #counters: FlowCounters;
  readonly #queue: Buffer[] = [];
  #mode: FlowMode = { kind: 'pass' };
  #blackholed = false;
  #sourceEnded = false;
  #waitingDrain = false;
  #timer: NodeJS.Timeout | undefined;
  #tokens = 0;
  #lastRefill = 0;

  /** `counters` is shared with the proxy, which sums every connection's bytes in it. */
  constructor(source: Socket, sink: Socket, counters: FlowCounters) {
    this.#source = source;
    this.#sink = sink;
    this.#counters = counters;
    source.on('data', (chunk: Buffer) => this.#onData(chunk));
    source.on('end', () => {
      this.#sourceEnded = true;
      this.#pump();
    });
    sink.on('drain', () => {
      this.#waitingDrain = false;
      this.#pump();
    });
  }

  /** True once this direction has been blackholed (it stays so). */
  get blackholed(): boolean {
    return this.#blackholed;
  }

  /** Applies a mode from now on (a blackhole is sticky, see {@link FlowMode}). */
  setMode(mode: FlowMode): void {
    if (mode.kind === 'blackhole') {
      this.#blackholed = true;
      this.#drop(this.#queue.splice(0));
    }
    this.#mode = mode;
    if (mode.kind === 'throttle') {
      this.#tokens = 0;
      this.#lastRefill = Date.now();
    }
    this.#pump();
  }

  /** Stops timers (the proxy destroys the sockets). */
  dispose(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue.length = 0;
  }

  #onData(chunk: Buffer): void {
    if (this.#blackholed) {
      this.#drop([chunk]);
      return;
    }
    this.#queue.push(chunk);
    this.#pump();
  }

  #drop(chunks: Buffer[]): void {
    for (const chunk of chunks) this.#counters.dropped += chunk.byteLength;
  }

  #pump(): void {
    if (this.#blackholed || this.#sink.destroyed) return;
    const mode = this.#mode;
    if (mode.kind === 'stall') {
      this.#source.pause();
      return;
    }
    if (mode.kind === 'throttle') {
      this.#pumpThrottled(mode.bytesPerS);
      return;
    }
    while (this.#queue.length > 0 && !this.#waitingDrain) {
      const chunk = this.#queue.shift() as Buffer;
      this.#write(chunk);
    }
    this.#afterWrite();
  }

  #pumpThrottled(bytesPerS: number): void {
    if (this.#timer) return;
    const now = Date.now();
    const burst = Math.max(1, Math.ceil((bytesPerS * THROTTLE_TICK_MS) / 1000));
    this.#tokens = Math.min(burst, this.#tokens + ((now - this.#lastRefill) * bytesPerS) / 1000);
    this.#lastRefill = now;
    while (this.#queue.length > 0 && !this.#waitingDrain && this.#tokens >= 1) {
      const head = this.#queue[0] as Buffer;
      const n = Math.min(head.byteLength, Math.floor(this.#tokens));
      this.#tokens -= n;
      if (n === head.byteLength) this.#queue.shift();
      else this.#queue[0] = head.subarray(n);
      this.#write(head.subarray(0, n));
    }
    if (this.#queue.length > 0 && !this.#waitingDrain) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#pump();
      }, THROTTLE_TICK_MS);
    }
    this.#afterWrite(THROTTLE_HIGH_WATER);
  }

  #write(chunk: Buffer): void {
    this.#counters.forwarded += chunk.byteLength;
    if (!this.#sink.write(chunk)) this.#waitingDrain = true;
  }

  /** Reads on while less than `highWater` bytes wait; ends the sink after the last byte. */
  #afterWrite(highWater = 0): void {
    const queued = this.#queue.reduce((sum, c) => sum + c.byteLength, 0);
    if (this.#waitingDrain || queued > highWater) this.#source.pause();
    else if (!this.#source.destroyed) this.#source.resume();
    if (queued === 0 && this.#sourceEnded && !this.#sink.writableEnded) this.#sink.end();
  }
}
