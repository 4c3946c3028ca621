/** Raw MQTT over TCP for attacks that a well-behaved client library would not send. */
import { type Socket, connect as tcpConnect } from 'node:net';

function varint(n: number): Buffer {
  const bytes: number[] = [];
  let x = n;
  do {
    let byte = x % 128;
    x = Math.floor(x / 128);
    if (x > 0) byte |= 0x80;
    bytes.push(byte);
  } while (x > 0);
  return Buffer.from(bytes);
}

function str(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

/** An MQTT 3.1.1 CONNECT with user name and password, clean session, keepalive 30 s. */
export function connectPacket(clientId: string, username: string, password: string): Buffer {
  const body = Buffer.concat([
    str('MQTT'),
    Buffer.from([4, 0xc2, 0, 30]),
    str(clientId),
    str(username),
    str(password),
  ]);
  return Buffer.concat([Buffer.from([0x10]), varint(body.length), body]);
}

/** The fixed header of a CONNECT announcing `remaining` bytes (what an oversized packet starts with). */
export function connectHeader(remaining: number): Buffer {
  return Buffer.concat([Buffer.from([0x10]), varint(remaining)]);
}

/** Opens a TCP connection from `localAddress` (another loopback address = another source). */
export function openRaw(url: string, localAddress = '127.0.0.1'): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: hostname, port: Number(port), localAddress }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/**
 * Sends one CONNECT and answers the CONNACK return code, or -1 when the broker closed the
 * connection without one. The socket is closed afterwards.
 */
export async function rawConnect(url: string, packet: Buffer, localAddress?: string): Promise<number> {
  const socket = await openRaw(url, localAddress);
  socket.on('error', () => undefined);
  return new Promise<number>((resolve) => {
    let got = Buffer.alloc(0);
    const done = (code: number) => {
      socket.destroy();
      resolve(code);
    };
    socket.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 4) done(got[0] === 0x20 ? (got[3] as number) : -1);
    });
    socket.on('close', () => done(-1));
    socket.write(packet);
  });
}

/** Resolves true once the server closes `socket`, false if it is still open after `ms`. */
export function closedWithin(socket: Socket, ms: number): Promise<boolean> {
  if (socket.destroyed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}
