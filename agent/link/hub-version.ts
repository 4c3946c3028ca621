import type { Logger } from 'pino';
import { formatVersion, type PeerVersion, PROTOCOL, type Refusal, readsPv } from '../../shared/index.js';

/** Most recent hub refusals kept for the status (bounded). */
const MAX_REFUSALS = 16;

/** What the agent knows of its hub's protocol, for `GET /v1/status`. */
export interface HubProtocolStats {
  /** This agent's protocol version. */
  speaks: string;
  /** The hub's version as its last message named it; null before any (or a previous-release hub). */
  hub: string | null;
  /** The hub's refusals of this device's messages, most recent last. */
  refusals: Array<{ channel: string; reason: string; at: number }>;
  /** Items hub messages carried that this agent keeps without understanding. */
  tolerated: { total: number; byItem: Record<string, number> };
}

/**
 * The hub's protocol version as this agent learned it (docs/compatibility.md). The agent
 * always states its own in the reported state (the one message every hub reads loosely);
 * it stamps `pv` on its other messages only once the hub has shown it reads `pv`, since the
 * previous release validates strictly and would reject a batch with an unknown field.
 */
export class HubProtocol {
  #hub: PeerVersion | undefined;
  readonly #refusals: HubProtocolStats['refusals'] = [];
  #toleratedTotal = 0;
  readonly #tolerated = new Map<string, number>();

  constructor(private readonly log: Logger) {}

  /** Books the version a hub message named, if it named one. */
  seen(version: PeerVersion | undefined): void {
    if (version !== undefined) this.#hub = version;
  }

  /** True once the hub has shown it reads `pv` (so it is not of the previous release). */
  readsCurrent(): boolean {
    return readsPv(this.#hub);
  }

  /** `{ pv }` for a message to the hub, or nothing while the hub may be of the previous release. */
  stamp(): { pv?: string } {
    return readsPv(this.#hub) ? { pv: PROTOCOL } : {};
  }

  /** Counts what a hub message carried that this agent does not understand. */
  tolerate(items: string[]): void {
    for (const item of items) {
      this.#toleratedTotal++;
      if (this.#tolerated.has(item) || this.#tolerated.size < 256) {
        this.#tolerated.set(item, (this.#tolerated.get(item) ?? 0) + 1);
      }
    }
  }

  /** The hub refused one of this device's messages because of its protocol version. */
  refused(refusal: Refusal): void {
    this.log.error(
      { channel: refusal.refused, reason: refusal.reason, hub: refusal.pv },
      'the hub refused a message of this agent: its protocol version is not served',
    );
    this.#refusals.push({ channel: refusal.refused, reason: refusal.reason, at: refusal.at });
    if (this.#refusals.length > MAX_REFUSALS) this.#refusals.shift();
  }

  stats(): HubProtocolStats {
    return {
      speaks: PROTOCOL,
      hub: this.#hub ? formatVersion(this.#hub) : null,
      refusals: [...this.#refusals],
      tolerated: { total: this.#toleratedTotal, byItem: Object.fromEntries(this.#tolerated) },
    };
  }
}
