import type { Logger } from 'pino';
import {
  type Decoded,
  deviceTopic,
  encodeMessage,
  formatVersion,
  type PeerVersion,
  PROTOCOL,
  PROTOCOL_VERSION,
  RefusalSchema,
  readsPv,
} from '../../shared/index.js';
import type { HubBus } from '../bus/types.js';
import type { Rejections } from '../rejections.js';
import type { HubCounters } from '../stats.js';

/** Most devices whose protocol version is remembered; beyond it the memory restarts. */
const MAX_REMEMBERED = 100_000;

/**
 * What the hub knows of each device's protocol version, from the last message that named
 * one (docs/compatibility.md). Answers carry `pv` only to a device known to read it: the
 * previous release validates strictly and would drop an ack with an unknown field.
 */
export class PeerVersions {
  readonly #versions = new Map<string, PeerVersion>();

  constructor(
    private readonly deps: {
      bus: HubBus;
      rejections: Rejections;
      counters: HubCounters;
      logger: Logger;
      now: () => number;
    },
  ) {}

  /** `{ pv }` for an answer to `deviceId`, or nothing for a device of the previous release. */
  stamp(deviceId: string): { pv?: string } {
    return readsPv(this.#versions.get(deviceId)) ? { pv: PROTOCOL } : {};
  }

  /** The version `deviceId` last spoke, if known. */
  of(deviceId: string): PeerVersion | undefined {
    return this.#versions.get(deviceId);
  }

  /**
   * Books one decoded device message: remembers its version, counts what was tolerated
   * and, for a refusal, counts it as `<channel>.unserved` or `<channel>.invalid` and, when
   * the refusal is because of the version, tells the device why on its `ack` topic.
   * Returns the decoded value, or undefined when refused.
   */
  async accept<T>(deviceId: string, channel: string, decoded: Decoded<T>): Promise<T | undefined> {
    if (decoded.version) {
      if (this.#versions.size >= MAX_REMEMBERED && !this.#versions.has(deviceId)) this.#versions.clear();
      this.#versions.set(deviceId, decoded.version);
    }
    if (decoded.ok) {
      for (const item of decoded.tolerated) this.deps.counters.tolerate(item);
      if (decoded.tolerated.length > 0) {
        this.deps.logger.debug(
          { deviceId, channel, tolerated: decoded.tolerated },
          'kept what this hub reads',
        );
      }
      return decoded.value;
    }
    if (!decoded.unserved) {
      this.deps.rejections.reject(deviceId, `${channel}.invalid`, decoded.reason);
      return undefined;
    }
    const version = decoded.version ? formatVersion(decoded.version) : 'unknown';
    this.deps.rejections.reject(deviceId, `${channel}.unserved`, decoded.reason, { version });
    const refusal = encodeMessage(RefusalSchema, {
      v: PROTOCOL_VERSION,
      pv: PROTOCOL,
      refused: channel,
      reason: decoded.reason,
      at: this.deps.now(),
    });
    await this.deps.bus.publish(deviceTopic(deviceId, 'ack'), refusal, { qos: 1, retain: false });
    return undefined;
  }
}
