import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/agent.js';
import { FaultProxy } from './fault-proxy.js';

// The fault proxy on its own, between a real TCP client and an echo server.
// Absence of traffic is checked after a pause, never by how long something took.

interface EchoServer {
  server: Server;
  port: number;
  /** Bytes received per server-side connection, in accept order. */
  received: number[];
  /** Server-side connections that saw the client's FIN / an error or RST. */
  ended: number;
  errors: number;
  sockets: Socket[];
}

async function echoServer(): Promise<EchoServer> {
  const echo: EchoServer = {
    server: createServer(),
    port: 0,
    received: [],
    ended: 0,
    errors: 0,
    sockets: [],
  };
  echo.server.on('connection', (socket) => {
    const index = echo.received.push(0) - 1;
    echo.sockets.push(socket);
    socket.on('data', (chunk: Buffer) => {
      echo.received[index] = (echo.received[index] ?? 0) + chunk.byteLength;
      socket.write(chunk);
    });
    socket.on('end', () => {
      echo.ended += 1;
      socket.end();
    });
    socket.on('error', () => {
      echo.errors += 1;
    });
  });
  echo.server.listen(0, '127.0.0.1');
  await once(echo.server, 'listening');
  echo.port = (echo.server.address() as AddressInfo).port;
  return echo;
}

interface Client {
  socket: Socket;
  data: Buffer[];
  bytes(): number;
  all(): Buffer;
  closed: Promise<{ hadError: boolean; code: string | undefined }>;
}

async function client(port: number): Promise<Client> {
  const socket = connect(port, '127.0.0.1');
  const data: Buffer[] = [];
  let code: string | undefined;
  socket.on('data', (chunk: Buffer) => data.push(chunk));
  socket.on('error', (err: NodeJS.ErrnoException) => {
    code = err.code;
  });
  // Not events.once: it would reject on the 'error' that precedes the close of a reset.
  const closed = new Promise<{ hadError: boolean; code: string | undefined }>((resolve) =>
    socket.once('close', (hadError) => resolve({ hadError, code })),
  );
  await once(socket, 'connect');
  return {
    socket,
    data,
    bytes: () => data.reduce((n, c) => n + c.byteLength, 0),
    all: () => Buffer.concat(data),
    closed,
  };
}

/** Connects and resolves once the connection is closed, which must be by an error (RST). */
async function resetAtOnce(port: number): Promise<void> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  const hadError = await new Promise<boolean>((resolve) => socket.once('close', resolve));
  assert.equal(hadError, true, 'the connection was reset');
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('fault proxy', () => {
  let echo: EchoServer;
  let proxy: FaultProxy;
  const clients: Client[] = [];
  /** A client through the proxy, once the echo server holds its connection (`index`). */
  const connectClient = async () => {
    const index = echo.received.length;
    const c = await client(proxy.port);
    clients.push(c);
    await waitFor(() => echo.received.length > index, 'the connection at the echo server');
    return Object.assign(c, { index });
  };

  before(async () => {
    echo = await echoServer();
    proxy = await FaultProxy.start({ host: '127.0.0.1', port: echo.port });
  });
  // A failed test must not leave its fault behind for the next one.
  afterEach(() => proxy.heal());
  after(async () => {
    for (const c of clients) c.socket.destroy();
    await proxy.close();
    for (const s of echo.sockets) s.destroy();
    echo.server.close();
  });

  it('forwards bytes both ways unchanged and passes a clean close on', async () => {
    const c = await connectClient();
    const payload = randomBytes(300_000);
    c.socket.write(payload);
    await waitFor(() => c.bytes() === payload.byteLength, 'the echo of every byte');
    assert.ok(c.all().equals(payload));
    const endedBefore = echo.ended;
    c.socket.end();
    assert.deepEqual(await c.closed, { hadError: false, code: undefined });
    await waitFor(() => echo.ended === endedBefore + 1, 'the FIN at the server');
    await waitFor(() => proxy.connections === 0, 'the connection forgotten');
  });

  it('cut resets both sides at once', async () => {
    const c = await connectClient();
    c.socket.write('hello');
    await waitFor(() => c.bytes() === 5, 'echo');
    const errorsBefore = echo.errors;
    assert.equal(proxy.cut(), 1);
    const closed = await c.closed;
    assert.equal(closed.hadError, true);
    assert.equal(closed.code, 'ECONNRESET');
    await waitFor(() => echo.errors === errorsBefore + 1, 'the RST at the server');
    assert.equal(proxy.connections, 0);
    assert.equal(proxy.stats().cutConnections >= 1, true);
  });

  it('stall holds every byte, keeps the connection, and delivers in order on heal', async () => {
    const c = await connectClient();
    const index = c.index;
    proxy.stall('up');
    const payload = randomBytes(200_000);
    c.socket.write(payload);
    await pause(200);
    assert.equal(echo.received[index], 0, 'nothing crossed a stalled direction');
    assert.equal(c.bytes(), 0);
    proxy.heal();
    await waitFor(() => c.bytes() === payload.byteLength, 'every held byte, echoed');
    assert.ok(c.all().equals(payload));
    assert.equal(c.socket.destroyed, false);
    c.socket.end();
    await c.closed;
  });

  it('stall of one direction lets the other flow', async () => {
    const c = await connectClient();
    const index = c.index;
    proxy.stall('down');
    c.socket.write('ping-down');
    await waitFor(() => echo.received[index] === 9, 'the bytes at the server');
    await pause(150);
    assert.equal(c.bytes(), 0, 'the echo is held back');
    proxy.heal();
    await waitFor(() => c.all().toString() === 'ping-down', 'the echo after heal');
    c.socket.end();
    await c.closed;
  });

  it('blackhole swallows bytes without FIN or RST; the connection stays dead after heal', async () => {
    const c = await connectClient();
    const serverSocket = echo.sockets[c.index];
    const index = c.index;
    const droppedBefore = proxy.stats().bytes.up.dropped;
    proxy.blackhole('both');
    c.socket.write('into the void');
    await waitFor(() => proxy.stats().bytes.up.dropped === droppedBefore + 13, 'the bytes discarded');
    // The server side goes away: a partition carries no FIN or RST to the client.
    serverSocket?.destroy();
    await pause(200);
    assert.equal(c.socket.destroyed, false);
    assert.equal(c.bytes(), 0);
    assert.equal(echo.received[index], 0);
    proxy.heal();
    c.socket.write('still nothing');
    await pause(150);
    assert.equal(c.bytes(), 0, 'a blackholed connection never comes back');
    // A new connection after heal works.
    const fresh = await connectClient();
    fresh.socket.write('alive');
    await waitFor(() => fresh.all().toString() === 'alive', 'echo on a new connection');
    c.socket.destroy();
    fresh.socket.end();
    await fresh.closed;
  });

  it('throttle delivers every byte in order but holds most of them back', async () => {
    const c = await connectClient();
    const payload = randomBytes(40_000);
    const forwardedBefore = proxy.stats().bytes.up.forwarded;
    proxy.throttle(1000, 'up');
    c.socket.write(payload);
    await waitFor(() => c.bytes() > 0, 'the first throttled bytes');
    // 1000 B/s in 50 ms slices: far from all 40 kB can have crossed this early.
    assert.ok(proxy.stats().bytes.up.forwarded - forwardedBefore < payload.byteLength);
    assert.ok(c.bytes() < payload.byteLength);
    proxy.heal();
    await waitFor(() => c.bytes() === payload.byteLength, 'the rest after heal');
    assert.ok(c.all().equals(payload));
    c.socket.end();
    await c.closed;
  });

  it('refuse and a missing target reset new connections; open ones live on', async () => {
    const open = await connectClient();
    proxy.refuse(true);
    await resetAtOnce(proxy.port);
    proxy.refuse(false);
    proxy.setTarget(undefined);
    await resetAtOnce(proxy.port);
    assert.ok(proxy.stats().refused >= 2);
    proxy.setTarget(`tcp://127.0.0.1:${echo.port}`);
    open.socket.write('still here');
    await waitFor(() => open.all().toString() === 'still here', 'echo on the open connection');
    open.socket.end();
    await open.closed;
  });

  it('flap cuts and restores on a schedule until heal', async () => {
    const flapsBefore = proxy.stats().flaps;
    proxy.flap({ downMs: 30, upMs: 30 });
    // Keep reconnecting until a connection is cut by a later down phase.
    await waitFor(async () => {
      const c = await client(proxy.port).catch(() => undefined);
      if (!c) return false;
      c.socket.on('error', () => {});
      clients.push(c);
      return proxy.stats().flaps >= flapsBefore + 3 && (await c.closed).hadError;
    }, 'three down phases, one cutting a live connection');
    proxy.heal();
    const c = await connectClient();
    c.socket.write('after the flap');
    await waitFor(() => c.all().toString() === 'after the flap', 'echo after heal');
    c.socket.end();
    await c.closed;
  });

  it('rejects a throttle below one byte per second and a target without a port', () => {
    assert.throws(() => proxy.throttle(0), /bytesPerS >= 1/);
    assert.throws(() => proxy.setTarget('mqtt://127.0.0.1'), /needs a port/);
  });
});
