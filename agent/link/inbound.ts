import type { Logger } from 'pino';
import { z } from 'zod';
import {
  type Ack,
  AckSchema,
  type Command,
  CommandSchema,
  type DesiredState,
  DesiredStateSchema,
  decodeMessage,
  formatIssues,
  isDownlinkChannel,
  type PeerVersion,
  type Pong,
  PongSchema,
  parseDeviceTopic,
  parseTolerant,
  RefusalSchema,
} from '../../shared/index.js';
import type { HubProtocol } from './hub-version.js';

/** Counts of inbound payloads dropped as invalid, by reason (`channel: reason`). */
export interface InvalidInboundStats {
  total: number;
  byReason: Record<string, number>;
}

/** What the router hands on, each payload already validated. */
export interface InboundHandlers {
  ack(ack: Ack): void;
  /** The hub's answer to an application-level ping, also on `ack`. */
  pong(pong: Pong): void;
  desired(doc: DesiredState): void;
  /** A desired document that failed validation (already counted), with its raw payload. */
  desiredInvalid(payload: Buffer, reason: string): void;
  command(cmd: Command): void;
  /** A command that failed validation (already counted) but names its id: refuse it by id. */
  commandInvalid?(id: string, name: string, reason: string): void;
}

/** Any JSON object: the first step of decoding the `ack` topic. */
const AnyObject = z.record(z.string(), z.unknown());

/** Distinct reasons tracked one by one; beyond this, they share one bucket (bounded memory). */
const MAX_REASONS = 64;
const MAX_REASON_CHARS = 300;

/**
 * Validates every inbound MQTT payload with its schema (docs/architecture.md "Wire protocol"): an
 * invalid one is counted, logged once per reason at `warn`, and dropped. {@link handle}
 * never throws, so nothing escapes into mqtt.js' message callback.
 */
export class InboundRouter {
  readonly #deviceId: string;
  readonly #log: Logger;
  readonly #handlers: InboundHandlers;
  #total = 0;
  readonly #byReason = new Map<string, number>();

  readonly #hub: HubProtocol | undefined;

  constructor(deviceId: string, log: Logger, handlers: InboundHandlers, hub?: HubProtocol) {
    this.#deviceId = deviceId;
    this.#log = log;
    this.#handlers = handlers;
    this.#hub = hub;
  }

  /** Books a decoded hub message's version and what it carried beyond this agent's reading. */
  #book(decoded: { version?: PeerVersion; tolerated?: string[] }): void {
    this.#hub?.seen(decoded.version);
    if (decoded.tolerated?.length) this.#hub?.tolerate(decoded.tolerated);
  }

  /** Routes one message; invalid ones are counted and dropped. */
  handle(topic: string, payload: Buffer): void {
    try {
      this.#route(topic, payload);
    } catch (err) {
      this.#log.error({ err, topic }, 'inbound message handler failed; message dropped');
    }
  }

  /** Snapshot of the invalid-payload counters. */
  stats(): InvalidInboundStats {
    return { total: this.#total, byReason: Object.fromEntries(this.#byReason) };
  }

  #route(topic: string, payload: Buffer): void {
    const parsed = parseDeviceTopic(topic);
    if (!parsed || parsed.deviceId !== this.#deviceId || !isDownlinkChannel(parsed.channel)) {
      this.#invalid('topic', `unexpected topic ${topic}`);
      return;
    }
    switch (parsed.channel) {
      case 'ack': {
        // An ack, a pong or a refusal, told apart by the `pong` and `refused` keys.
        const decoded = decodeMessage(AnyObject, payload);
        if (!decoded.ok) {
          this.#book(decoded);
          this.#invalid('ack', decoded.reason);
          return;
        }
        this.#hub?.seen(decoded.version);
        if ('refused' in decoded.value) {
          const refusal = parseTolerant(RefusalSchema, decoded.value);
          if (refusal.success) this.#hub?.refused(refusal.data);
          else this.#invalid('ack', `refusal: ${formatIssues(refusal.error).join('; ')}`);
          return;
        }
        if ('pong' in decoded.value) {
          const pong = parseTolerant(PongSchema, decoded.value);
          this.#book(pong);
          if (pong.success) this.#handlers.pong(pong.data);
          else this.#invalid('ack', `pong: ${formatIssues(pong.error).join('; ')}`);
          return;
        }
        const ack = parseTolerant(AckSchema, decoded.value);
        this.#book(ack);
        if (ack.success) this.#handlers.ack(ack.data);
        else this.#invalid('ack', formatIssues(ack.error).join('; '));
        return;
      }
      case 'desired': {
        if (payload.byteLength === 0) {
          this.#log.debug('desired state cleared at the broker (empty retained message); nothing to do');
          return;
        }
        const decoded = decodeMessage(DesiredStateSchema, payload);
        this.#book(decoded);
        if (decoded.ok) this.#handlers.desired(decoded.value);
        else {
          this.#invalid('desired', decoded.reason);
          this.#handlers.desiredInvalid(payload, decoded.reason);
        }
        return;
      }
      case 'cmd': {
        const decoded = decodeMessage(CommandSchema, payload);
        this.#book(decoded);
        if (decoded.ok) this.#handlers.command(decoded.value);
        else {
          this.#invalid('cmd', decoded.reason);
          const named = commandIdOf(payload);
          if (named) this.#handlers.commandInvalid?.(named.id, named.name, decoded.reason);
        }
        return;
      }
    }
  }

  #invalid(channel: string, reason: string): void {
    this.#total += 1;
    let key = `${channel}: ${reason}`.slice(0, MAX_REASON_CHARS);
    if (!this.#byReason.has(key) && this.#byReason.size >= MAX_REASONS) key = `${channel}: (other reasons)`;
    const seen = this.#byReason.get(key);
    this.#byReason.set(key, (seen ?? 0) + 1);
    if (seen === undefined) this.#log.warn({ channel, reason }, 'invalid inbound payload dropped');
  }
}

/** The `id` and `name` of a command payload that failed validation, when it has a usable id. */
function commandIdOf(payload: Buffer): { id: string; name: string } | undefined {
  const raw = decodeMessage(AnyObject, payload);
  if (!raw.ok) return undefined;
  const { id, name } = raw.value;
  if (typeof id !== 'string' || id.length === 0 || id.length > 64) return undefined;
  return { id, name: typeof name === 'string' ? name.slice(0, 64) : '' };
}
