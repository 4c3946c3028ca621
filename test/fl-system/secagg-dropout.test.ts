import assert from 'node:assert/strict';
import { createServer, type Server, Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { decodeUpdate } from '../../federated/index.js';
import type { Hub } from '../../hub/index.js';
import { loadDigits } from '../../inference/index.js';
import { tempDir, waitFor } from '../helpers/agent.js';
import { Cleanups } from '../helpers/fixtures.js';
import { api, enroll, startHub } from '../helpers/hub.js';
import {
  assertSecureMatchesPlain,
  type FleetDevice,
  initialModel,
  postDigits,
  sliceDigits,
  startAgent,
  taskBody,
  taskEnded,
} from './fleet.js';

// A device that drops out *during* a secure round. Four real agents, t = 2:
// D sends its key shares, then dies before masking (it is in U2, not in U3: the hub rebuilds
// D's mask key from the survivors' shares and removes its pair masks); V sends its masked
// input, then dies before unmasking (its input is in the sum: its self mask is rebuilt from
// the others' shares). The round closes with A, H and V, and its model equals a plain FedAvg
// round over A, H and V (same seed: devices train alike) within the fixed-point bound.
// H's link passes a proxy that holds the hub's messages to H, so the share phase stays open
// (H has not shared) until D is dead — no timing race decides the phase D dies in.

/** A TCP proxy whose hub → device direction can be held (buffered in order) and released. */
class HoldingProxy {
  readonly #server: Server = createServer((client) => this.#accept(client));
  readonly #sockets = new Set<Socket>();
  readonly #releases = new Set<() => void>();
  #held = false;
  #target = 0;

  async listen(hubUrl: string): Promise<string> {
    this.#target = Number(new URL(hubUrl).port);
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return `mqtt://127.0.0.1:${(this.#server.address() as { port: number }).port}`;
  }

  hold(on: boolean): void {
    this.#held = on;
    if (!on) for (const release of this.#releases) release();
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    const upstream = new Socket();
    const held: Buffer[] = [];
    const release = () => {
      for (const b of held.splice(0)) client.write(b);
    };
    this.#releases.add(release);
    for (const s of [client, upstream]) {
      this.#sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        this.#sockets.delete(s);
        client.destroy();
        upstream.destroy();
        this.#releases.delete(release);
      });
    }
    upstream.connect(this.#target, '127.0.0.1');
    client.pipe(upstream);
    upstream.on('data', (b: Buffer) => {
      if (this.#held) held.push(b);
      else client.write(b);
    });
  }
}

/** The secure-round phase the hub last published to `device`. */
async function phaseOf(hub: Hub, device: FleetDevice): Promise<string | undefined> {
  return (await hub.store.getDesired(device.creds.id))?.federated?.task.secagg?.phase;
}

describe('secure aggregation with devices dropping out mid-protocol', () => {
  const cleanups = new Cleanups();
  after(async () => {
    await cleanups.run();
  });

  it('closes the round with the survivors and gives plain FedAvg over them', async () => {
    const dir = tempDir('outpost-fl-hub-');
    cleanups.push(() => dir.remove());
    const hub: Hub = await startHub(dir.path);
    cleanups.push(() => hub.close());
    const proxy = new HoldingProxy();
    const proxyUrl = await proxy.listen(hub.mqtt.url);
    cleanups.push(() => proxy.close());

    const train = loadDigits(20, 0);
    const start = async (name: string, slice: number[], survives: boolean, url = hub.mqtt.url) => {
      const d = tempDir(`outpost-fl-${name}-`);
      cleanups.push(() => d.remove());
      const device: FleetDevice = {
        creds: await enroll(hub, { name, labels: { survives: String(survives) } }),
        dataDir: d.path,
        agent: undefined,
      };
      const link =
        url === hub.mqtt.url
          ? {}
          : // No keepalive ping nor app ping while its inbound messages are held.
            {
              link: {
                keepaliveS: 300,
                pingIntervalMs: 0,
                reconnectMinMs: 20,
                reconnectMaxMs: 200,
                connectTimeoutMs: 2000,
              },
            };
      const agent = await startAgent(device, url, {
        inference: { profile: 'x86-64-cpu', threads: 1 },
        ...link,
      });
      cleanups.push(() => device.agent?.close());
      await postDigits(agent, sliceDigits(train, slice), 'train');
      return device;
    };
    const a = await start('a', [0, 1, 2], true);
    const h = await start('h', [3, 4, 5], true, proxyUrl);
    const v = await start('v', [6, 7], true);
    const d = await start('d', [8, 9], false);
    await waitFor(
      async () => (await hub.store.listDevices()).filter((x) => x.online).length === 4,
      'four online',
    );
    const model = initialModel();
    const common = { rounds: 1, seed: 42, evaluate: false };

    // The reference: plain FedAvg over exactly A, H and V.
    const plainBody = taskBody(model, {
      ...common,
      id: 'plain',
      minClients: 3,
      selector: { survives: 'true' },
    });
    assert.equal((await api(hub, 'POST', '/v1/federated/tasks', plainBody)).status, 201);
    const plainTask = await taskEnded(hub, 'plain', 'the plain task to finish', 50_000);
    assert.equal(plainTask.status, 'done', JSON.stringify(plainTask));
    const [plainRound] = (await api(hub, 'GET', '/v1/federated/tasks/plain/rounds')).body.rounds;
    assert.deepEqual(plainRound.selected, [a, h, v].map((x) => x.creds.id).sort());

    const dBase = d.agent?.status().outbox.learning.enqueued ?? 0;
    const secure = taskBody(model, {
      ...common,
      id: 'secure',
      minClients: 4,
      deadlineS: 20,
      secagg: { threshold: 2, maxExamples: 200 },
    });
    const res = await api(hub, 'POST', '/v1/federated/tasks', secure);
    assert.equal(res.status, 201, JSON.stringify(res.body));

    // H applied the task (phase advertise); from now on it hears nothing more from the hub.
    const rev = await waitFor(async () => {
      const desired = await hub.store.getDesired(h.creds.id);
      return desired?.federated?.task.id === 'secure' && desired.rev;
    }, 'the secure task published');
    await waitFor(() => (h.agent?.status().desired.appliedRev ?? 0) >= rev, 'H to apply the task');
    proxy.hold(true);
    assert.equal(await phaseOf(hub, h), 'advertise', 'H was held before the share phase');

    // D's key shares are acknowledged by the hub; D dies before any mask phase.
    await waitFor(
      async () => {
        const learning = d.agent?.status().outbox.learning;
        return (
          (await phaseOf(hub, d)) === 'share' &&
          learning !== undefined &&
          learning.enqueued >= dBase + 2 &&
          learning.pending === 0
        );
      },
      'D to deliver its shares',
      30_000,
    );
    await d.agent?.close();
    d.agent = undefined;
    assert.equal(await phaseOf(hub, d), 'share', 'D died before the mask phase');
    proxy.hold(false);

    // V's masked input is filed (the mask phase waits for D until the deadline); V dies.
    await waitFor(
      async () =>
        (await hub.store.listFlPending('secure', 1)).some(
          (p) => p.deviceId === v.creds.id && p.chunks === p.total,
        ),
      "V's masked input filed",
      30_000,
    );
    await v.agent?.close();
    v.agent = undefined;
    assert.equal(await phaseOf(hub, v), 'mask', 'V died before the unmask phase');

    const task = await taskEnded(hub, 'secure', 'the secure round to close', 50_000);
    assert.equal(task.status, 'done', JSON.stringify(task));
    const [round] = (await api(hub, 'GET', '/v1/federated/tasks/secure/rounds')).body.rounds;
    assert.equal(round.metrics.accepted, 3, JSON.stringify(round.metrics));
    // D shared keys but never masked: the one client whose mask key was rebuilt.
    assert.deepEqual(round.metrics.rejected, { 'secagg-dropped': 1 });
    const status = Object.fromEntries(
      round.updates.map((u: { deviceId: string; status: string }) => [u.deviceId, u.status]),
    );
    assert.deepEqual(status, {
      [a.creds.id]: 'accepted',
      [h.creds.id]: 'accepted',
      [v.creds.id]: 'accepted',
      [d.creds.id]: 'rejected',
    });
    assert.equal(round.metrics.examples, plainRound.metrics.examples);

    const shapes = model.weights.map((w) => ({ name: w.name, shape: w.shape }));
    const weightsOf = async (id: string) =>
      decodeUpdate(
        Buffer.from(
          (await api(hub, 'GET', `/v1/federated/tasks/${id}/weights?round=2`)).body.weights,
          'base64',
        ),
        shapes,
      );
    const plain = await weightsOf('plain');
    const masked = await weightsOf('secure');
    assertSecureMatchesPlain({
      start: model.weights,
      plain: plain,
      secure: masked,
      survivors: 3,
      examples: round.metrics.examples,
      maxExamples: 200,
    });
  });
});
