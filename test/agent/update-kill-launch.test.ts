/**
 * The launcher and its agent killed together (SIGKILL to the process group, as systemd
 * stopping the cgroup or a power cut) at random points of a real over-the-air update: in the
 * download, after it (verification), while the bundle is unpacked and switched to, during the
 * new release's first start and while it confirms its health. After each kill the device's
 * slots name one consistent release whose slot is whole, and its store is the same one (same
 * epoch); started again it carries on, ends on the new release, and every event its
 * application had handed over reaches the hub exactly once. A few kills keep it CI-sized; the
 * seed is printed (`OUTPOST_KILL_SEED=N` replays a run).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Slots } from '../../agent/index.js';
import { OUTPOST_VERSION } from '../../shared/index.js';
import { Prng } from '../faults/prng.js';
import {
  type LaunchedAgent,
  launchAgent,
  postEvents,
  pushBundle,
  readingsAtHub,
  testBundle,
  waitForDevice,
  writeAgentConfig,
} from '../helpers/agent-update.js';
import { api, Cleanups, enroll, startHub, tempDir, waitFor } from '../helpers/hub.js';

const SEED = Number(process.env.OUTPOST_KILL_SEED ?? Math.floor(Math.random() * 2 ** 31));
const NEW = '0.3.0';
type Phase = 'download' | 'verify' | 'switch' | 'first start' | 'confirmation';

describe('agent update: the launcher and its agent killed at random points', () => {
  const cleanups = new Cleanups();
  after(() => cleanups.run());

  it(`ends on one consistent release with its outbox intact after each kill (seed ${SEED})`, async (t) => {
    t.diagnostic(`seed ${SEED} (replay: OUTPOST_KILL_SEED=${SEED})`);
    console.log(`update kill test: seed ${SEED}`);
    const prng = new Prng(SEED);
    const dir = tempDir('outpost-ota-kill-');
    cleanups.add(() => dir.remove());
    const hub = await startHub(join(dir.path, 'hub'), { rollouts: { tickMs: 100 } });
    cleanups.add(() => hub.close());
    const keys = (await api(hub, 'GET', '/v1/keys')).body.keys.map(
      (k: { publicKeyPem: string }) => k.publicKeyPem,
    );
    const creds = await enroll(hub, { id: 'kill-1' });
    const bundle = await testBundle(dir.path, NEW);
    await pushBundle(hub, bundle.file);
    // A slow link: the download lasts a few seconds, so kills land in it.
    const config = writeAgentConfig(dir.path, hub, creds, {
      delivery: {
        trustedKeys: keys,
        hubHttpUrl: hub.http.url,
        bandwidthBytesPerS: Math.ceil(bundle.size / 3),
        checkpointBytes: 16 * 1024,
        retryMinMs: 100,
        retryMaxMs: 500,
      },
      update: { confirmTimeoutMs: 60_000 },
    });
    const dataDir = join(dir.path, creds.id);
    const updateDir = join(dataDir, 'update');
    const slots = new Slots(updateDir);
    const incoming = join(updateDir, 'incoming', `${bundle.sha256}.tgz`);
    let agent: LaunchedAgent | undefined;
    cleanups.add(() => agent?.stop());
    const start = async () => {
      agent = launchAgent(config, join(dir.path, 'agent.log'));
      await waitFor(() => agent?.apiUrl(), 'an agent ready', 60_000);
    };
    const accepted: number[] = [];
    let next = 0;
    const post = async (count: number) => {
      const url = agent?.apiUrl();
      if (!url) return;
      accepted.push(...(await postEvents(url, creds.id, next, count)));
      next += count;
    };

    await start();
    const first = await waitForDevice(hub, creds.id, (d) => d.online && d.reported?.epoch, 'online');
    const epoch = first.reported.epoch as string;
    await post(30);
    const rollout = await api(hub, 'POST', '/v1/rollouts', {
      target: 'agent',
      version: NEW,
      stages: [100],
      bakeMs: 0,
      deviceDeadlineMs: '10m',
    });
    assert.equal(rollout.status, 201, JSON.stringify(rollout.body));

    const order: Array<Phase | 'done'> = [
      'download',
      'verify',
      'switch',
      'first start',
      'confirmation',
      'done',
    ];
    const windowMs = { download: 1500, verify: 200, switch: 150, 'first start': 800, confirmation: 300 };
    /** The phase the update is in now, read from disk and the launcher's announcements. */
    const phaseNow = (readiesAtStart: number): Phase | 'done' | undefined => {
      let state: ReturnType<Slots['load']> | undefined;
      try {
        state = slots.load();
      } catch {
        return undefined;
      }
      const switched = state.versions[state.current] === NEW;
      if (switched && state.trial === undefined) return 'done';
      if (switched && (agent?.readies.length ?? 0) > readiesAtStart) return 'confirmation';
      if (switched) return 'first start';
      if (existsSync(join(updateDir, `${slots.inactive(state)}.partial`))) return 'switch';
      const bytes = existsSync(incoming) ? statSync(incoming).size : 0;
      if (bytes === bundle.size) return 'verify';
      if (bytes > 0) return 'download';
      return undefined;
    };
    /** Resolves once `phase` (or a later one) has begun, after a random part of its window. */
    const reached = async (phase: Phase): Promise<Phase | 'done'> => {
      const readiesAtStart = agent?.readies.length ?? 0;
      const seen = await waitFor(
        () => {
          const now = phaseNow(readiesAtStart);
          return now !== undefined && order.indexOf(now) >= order.indexOf(phase) ? now : undefined;
        },
        `the ${phase} phase`,
        90_000,
      );
      if (seen !== 'done') await new Promise((r) => setTimeout(r, prng.int(0, windowMs[seen])));
      return seen;
    };

    const plan: Phase[] = ['download', 'verify', 'switch', 'first start', 'confirmation'];
    const kills: string[] = [];
    for (const phase of plan) {
      const hit = await reached(phase);
      await (agent as LaunchedAgent).killGroup();
      const state = slots.load();
      const version = state.versions[state.current] as string;
      kills.push(`${phase}→${hit}: ${version}${state.trial ? ' (trial)' : ''}`);
      // One consistent release: it is the old or the new one, its slot is whole, and a
      // trial names the slot that runs.
      assert.ok(
        version === OUTPOST_VERSION || version === NEW,
        `after a kill in ${hit}: ${JSON.stringify(state)}`,
      );
      assert.ok(
        slots.holds(state.current, version, state),
        `after a kill in ${hit}: slot ${state.current} whole`,
      );
      if (state.trial) assert.equal(state.trial.slot, state.current);
      assert.ok(!readdirSync(updateDir).some((f) => f === `${state.current}.partial`));
      await start();
      await post(5);
    }
    t.diagnostic(`kills: ${kills.join('; ')}`);

    // Carried on to the end: the new release, confirmed, on the same store.
    const done = await waitForDevice(
      hub,
      creds.id,
      (d) => d.online && d.reported?.agentVersion === NEW && d.reported.update?.state === 'current',
      `${NEW} confirmed`,
      90_000,
    );
    assert.equal(done.reported.epoch, epoch, 'the same store (its epoch) throughout');
    const state = slots.load();
    assert.deepEqual([state.versions[state.current], state.trial], [NEW, undefined]);
    await post(5);
    await waitFor(
      async () => {
        const res = await fetch(new URL('/v1/status', agent?.apiUrl()));
        const s = (await res.json()) as { outbox: { results: { pending: number } } };
        return s.outbox.results.pending === 0;
      },
      'the outbox drained',
      30_000,
    );
    const seen = await readingsAtHub(hub, creds.id);
    const duplicates = [...seen.entries()].filter(([, n]) => n > 1);
    const missing = accepted.filter((n) => !seen.has(`${creds.id}/${n}`));
    assert.deepEqual(duplicates, [], 'no event twice');
    assert.deepEqual(missing, [], 'no accepted event lost');
    assert.ok(accepted.length >= 30);
    // The downloaded bundle is gone once the release runs.
    assert.equal(existsSync(incoming), false);
    assert.ok(readFileSync(join(dir.path, 'agent.log'), 'utf8').length > 0);
  });
});
