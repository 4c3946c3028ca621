import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { RoundWeights } from '../../agent/federated/round-weights.js';
import { UpdateUploader } from '../../agent/federated/uploader.js';
import { openDatabase } from '../../agent/store/database.js';
import { DeliveryStore } from '../../agent/store/delivery-store.js';
import { encodeUpdate } from '../../federated/index.js';
import { withTask } from '../../hub/federated/sections.js';
import type { FlTask } from '../../shared/messages/federated.js';
import { FaultProxy } from '../../test/faults/fault-proxy.js';
import { benchHub, enroll, Scratch } from '../outbox/fixture.js';

/** What {@link measureTransport} found. */
export interface TransportResult {
  params: number;
  /** Bytes of the global model and of the update (both uncompressed float32 codec bytes). */
  bytes: number;
  downloadMs: number;
  uploadMs: number;
  /** The cut upload: parts the hub held at the cut, bytes sent after it, time to finish. */
  cut: { partsHeld: number; parts: number; resentBytes: number; missingBytes: number; finishMs: number };
}

/**
 * Weights as artifacts over loopback, uncapped: a real hub (SQLite) publishes
 * a round's global model of `params` float32 parameters as a signed artifact; a device-side
 * downloader (the agent's, with its verification) fetches it, and the agent's uploader sends an
 * update of the same size in 1 MiB parts. A second device's upload is cut by a fault proxy
 * once the hub holds half of its parts and resumes: the bytes it sends after the cut against
 * those the hub lacked.
 */
export async function measureTransport(
  params: number,
  progress: (l: string) => void,
): Promise<TransportResult> {
  const scratch = new Scratch();
  const hub = await benchHub(await scratch.dir());
  const proxy = new FaultProxy();
  try {
    await proxy.listen();
    proxy.setTarget({ host: '127.0.0.1', port: hub.http.port });
    const devices = [await enroll(hub), await enroll(hub)];
    const weights = encodeUpdate([{ name: 'w', shape: [params], values: new Float32Array(params) }]);
    const spec = { mode: 'sync', shapes: [{ name: 'w', shape: [params] }], maxStaleness: 5 };
    await hub.store.createFlTask(
      {
        id: 'transport',
        spec,
        status: 'running',
        round: 1,
        serverState: null,
        best: null,
        reason: null,
        createdAt: Date.now(),
        updatedAt: Date.now(),
      },
      weights,
    );
    await hub.store.openFlRound({
      taskId: 'transport',
      round: 1,
      status: 'open',
      selected: devices.map((d) => d.id).sort(),
      openedAt: Date.now(),
      deadline: Date.now() + 3_600_000,
      closedAt: null,
      metrics: {},
    });
    const ref = await hub.federated.weights?.publish('transport', 1, weights);
    if (ref === undefined) throw new Error('the hub publishes no global artifacts');
    const task = {
      id: 'transport',
      round: 1,
      mode: 'sync',
      model: { name: 'm', version: '1.0.0' },
      topology: {},
      shapes: spec.shapes,
      weightsArtifact: ref,
      lr: 0.1,
      epochs: 1,
      batchSize: 1,
      clipNorm: 1,
      compression: { kind: 'none' },
      deadline: Date.now() + 3_600_000,
      evaluate: false,
      seed: 1,
    } as FlTask;
    await hub.delivery.desired.update(
      devices.map((d) => d.id),
      (current) => withTask(current, task),
    );
    const log = pino({ level: 'silent' });
    const side = async (creds: { id: string; secret: string }, hubHttpUrl: string) => {
      const dataDir = await scratch.dir();
      const db = openDatabase(dataDir, 'crash-safe');
      const http = {
        hubHttpUrl,
        authorization: `Basic ${Buffer.from(`${creds.id}:${creds.secret}`).toString('base64')}`,
        log,
      };
      return {
        db,
        weights: new RoundWeights({
          ...http,
          dataDir,
          trustedKeys: [hub.delivery.registry.signingKey.keys.publicKeyPem],
          store: new DeliveryStore(db),
          bandwidthBps: 0,
          checkpointBytes: 1024 * 1024,
          now: Date.now,
        }),
        uploader: new UpdateUploader({
          ...http,
          db,
          dataDir,
          bandwidthBps: 0,
          retryMinMs: 10,
          retryMaxMs: 50,
        }),
      };
    };
    const update = randomBytes(weights.byteLength);
    const a = await side(devices[0] as { id: string; secret: string }, hub.http.url);
    progress(`transport: downloading ${weights.byteLength} bytes`);
    let t = performance.now();
    await a.weights.load(task);
    const downloadMs = performance.now() - t;
    progress('transport: uploading');
    t = performance.now();
    a.uploader.record(a.uploader.stage('transport', 1, update), Date.now());
    a.uploader.kick();
    await a.uploader.idle();
    const uploadMs = performance.now() - t;
    if (a.uploader.status().length > 0) throw new Error(`upload failed: ${a.uploader.lastError()}`);

    progress('transport: an upload cut half-way');
    const bId = (devices[1] as { id: string }).id;
    const b = await side(devices[1] as { id: string; secret: string }, `http://127.0.0.1:${proxy.port}`);
    const parts = Math.ceil(update.byteLength / (1024 * 1024));
    const held = async () =>
      (await hub.store.getFlChunkHeads('transport', 1, bId)).filter((h) => h.index > 0).length;
    b.uploader.record(b.uploader.stage('transport', 1, update), Date.now());
    b.uploader.kick();
    while ((await held()) < parts / 2) await new Promise((r) => setTimeout(r, 5));
    proxy.refuse(true);
    proxy.cut();
    const partsHeld = await held();
    const upBefore = proxy.stats().bytes.up.forwarded;
    t = performance.now();
    proxy.refuse(false);
    b.uploader.kick();
    while (b.uploader.status().length > 0) await new Promise((r) => setTimeout(r, 5));
    const finishMs = performance.now() - t;
    await b.uploader.close();
    await a.uploader.close();
    a.db.close();
    b.db.close();
    return {
      params,
      bytes: weights.byteLength,
      downloadMs,
      uploadMs,
      cut: {
        partsHeld,
        parts,
        resentBytes: proxy.stats().bytes.up.forwarded - upBefore,
        missingBytes: update.byteLength - partsHeld * 1024 * 1024,
        finishMs,
      },
    };
  } finally {
    await proxy.close();
    await hub.close();
    await scratch.cleanup();
  }
}
