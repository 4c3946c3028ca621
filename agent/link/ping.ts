import type { Logger } from 'pino';
import { encodeMessage, PingSchema, type Pong } from '../../shared/index.js';

/** Settings and collaborators of the {@link PingMonitor}. */
export interface PingOptions {
  /** Time between pings, ms (config `link.pingIntervalMs`); 0 = no ping. */
  intervalMs: number;
  /** A ping not answered within this is a dead link, ms (config `link.pingTimeoutMs`). */
  timeoutMs: number;
  /** Publishes a ping on the device's `ping` channel at QoS 0; false when the link is down. */
  publish(payload: Buffer): boolean;
  /** The link is dead: drop the connection so that it reconnects. */
  onDead(reason: string): void;
  log: Logger;
  /** Wall clock of the ping's `at`, ms. */
  now: () => number;
  /** `{ pv }` once the hub reads it (agent/link/hub-version.ts). */
  stamp?: () => { pv?: string };
}

/**
 * The application-level ping ("dead links"). While the link is up it pings the
 * hub every `intervalMs` and declares the link dead when a pong does not come back within
 * `timeoutMs`: a silent partition (packets dropped, no FIN or RST) is thus detected within
 * `intervalMs + timeoutMs`, even while the outbox keeps the socket busy — mqtt.js' keepalive
 * only pings an idle link, and a QoS 1 publish into a blackhole never fails. Only the pong
 * of the ping outstanding counts, so a late pong from an earlier connection proves nothing.
 */
/** Said in the log and the status when the broker reached never answers a ping. */
export const NOT_AN_OUTPOST_HUB = 'not an Outpost hub';

export class PingMonitor {
  readonly #o: PingOptions;
  #interval: NodeJS.Timeout | undefined;
  #deadline: NodeJS.Timeout | undefined;
  #outstanding: { id: string; sentAt: number } | undefined;
  #session = '';
  #n = 0;
  #lastRttMs: number | null = null;
  #deadLinks = 0;

  constructor(options: PingOptions) {
    this.#o = options;
  }

  /** The link is up (`session` names the connection): starts pinging (unless `intervalMs` is 0). */
  start(session: string): void {
    this.stop();
    if (this.#o.intervalMs <= 0) return;
    this.#session = session;
    this.#interval = setInterval(() => this.#ping(), this.#o.intervalMs);
  }

  /** The link is down or closing: stops pinging and forgets the ping outstanding. */
  stop(): void {
    if (this.#interval) clearInterval(this.#interval);
    if (this.#deadline) clearTimeout(this.#deadline);
    this.#interval = undefined;
    this.#deadline = undefined;
    this.#outstanding = undefined;
  }

  /** A pong arrived. */
  onPong(pong: Pong): void {
    const outstanding = this.#outstanding;
    if (!outstanding || pong.pong !== outstanding.id) return;
    if (this.#deadline) clearTimeout(this.#deadline);
    this.#deadline = undefined;
    this.#outstanding = undefined;
    this.#lastRttMs = Math.max(0, performance.now() - outstanding.sentAt);
  }

  /** Round trip of the latest answered ping, ms; null before the first. */
  get lastRttMs(): number | null {
    return this.#lastRttMs === null ? null : Math.round(this.#lastRttMs * 10) / 10;
  }

  /** Dead links detected so far. */
  get deadLinks(): number {
    return this.#deadLinks;
  }

  #ping(): void {
    if (this.#outstanding) return; // its deadline decides
    this.#n += 1;
    const id = `${this.#session}-${this.#n}`.slice(-64);
    if (!this.#o.publish(encodeMessage(PingSchema, { v: 1, ...this.#o.stamp?.(), id, at: this.#o.now() })))
      return;
    this.#outstanding = { id, sentAt: performance.now() };
    this.#deadline = setTimeout(() => {
      this.stop();
      this.#deadLinks += 1;
      // Never a pong since start: the broker reached may not be an Outpost hub at all.
      const reason =
        this.#lastRttMs === null
          ? `${NOT_AN_OUTPOST_HUB}: no answer to the Outpost ping within ${this.#o.timeoutMs} ms from the broker reached (or a silent partition)`
          : `no pong from the hub within ${this.#o.timeoutMs} ms (silent partition?)`;
      this.#o.log.warn({ pingId: id, timeoutMs: this.#o.timeoutMs }, `dead link: ${reason}; reconnecting`);
      this.#o.onDead(reason);
    }, this.#o.timeoutMs);
  }
}
