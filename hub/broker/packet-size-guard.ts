import type { Client } from 'aedes';

/**
 * Reads MQTT fixed headers as bytes arrive and reports a packet whose announced remaining
 * length exceeds `maxBytes` as soon as its header is complete, before its body is buffered.
 * Also refuses a malformed length (more than 4 length bytes).
 */
export class PacketSizeGuard {
  private state: 'type' | 'length' | 'body' = 'type';
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private bodyLeft = 0;

  constructor(private readonly maxBytes: number) {}

  /** Feeds the next bytes of the stream; returns the offending announced length, or undefined. */
  feed(buf: Uint8Array): number | undefined {
    let i = 0;
    while (i < buf.length) {
      if (this.state === 'body') {
        const step = Math.min(this.bodyLeft, buf.length - i);
        this.bodyLeft -= step;
        i += step;
        if (this.bodyLeft === 0) this.state = 'type';
        continue;
      }
      const byte = buf[i++] as number;
      if (this.state === 'type') {
        this.state = 'length';
        this.length = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
        continue;
      }
      this.length += (byte & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      this.lengthBytes += 1;
      if (this.length > this.maxBytes) return this.length;
      if (byte & 0x80) {
        if (this.lengthBytes >= 4) return Number.POSITIVE_INFINITY;
        continue;
      }
      this.bodyLeft = this.length;
      this.state = this.length === 0 ? 'type' : 'body';
    }
    return undefined;
  }
}

interface ParsingClient {
  _parser?: { parse?: (buf: Buffer) => unknown };
  conn?: { destroy(): void };
}

/**
 * Installs a {@link PacketSizeGuard} in front of an aedes client's MQTT parser (aedes 1.x
 * buffers a whole packet before it looks at it, with no size limit): every byte the client's
 * connection delivers passes the guard first, and a packet announcing more than `maxBytes`
 * closes the connection at once, whatever the listener (TCP, TLS, WebSocket) and before
 * authentication. Throws when the client does not have the parser this relies on, so an aedes
 * upgrade that changes it fails loudly instead of silently dropping the limit.
 */
export function guardClientPacketSize(
  client: Client,
  maxBytes: number,
  onViolation: (announced: number) => void,
): void {
  const parsing = client as unknown as ParsingClient;
  const parser = parsing._parser;
  if (parser === undefined || typeof parser.parse !== 'function') {
    throw new Error('aedes client has no _parser.parse: the MQTT packet size limit cannot be enforced');
  }
  const guard = new PacketSizeGuard(maxBytes);
  const parse = parser.parse.bind(parser);
  let refused = false;
  parser.parse = (buf: Buffer) => {
    if (refused) return 0;
    const announced = guard.feed(buf);
    if (announced === undefined) return parse(buf);
    refused = true;
    onViolation(announced);
    parsing.conn?.destroy();
    return 0;
  };
}
