import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { type AgentStatus, healthOf, Launcher, type SlotName, Slots } from '../../agent/index.js';
import { REPO_ROOT } from '../compat/previous-release.js';
import { tempDir, testLogger, waitFor } from '../helpers/agent.js';
import { enroll, startHub } from '../helpers/hub.js';

const lane = (pending: number, acked: number) => ({ pending, acked, enqueued: pending + acked });

function status(over: { connected?: boolean; engine?: string | null; results?: ReturnType<typeof lane> }) {
  return {
    link: { connected: over.connected ?? true },
    inference: {
      models: over.engine === undefined ? [] : [{ name: 'digits', engine: over.engine }],
    },
    outbox: { results: over.results ?? lane(0, 0) },
  } as unknown as AgentStatus;
}

describe('agent update: health confirmation', () => {
  const cleanups: Array<() => unknown> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('is healthy when connected, every model has an engine and a backlog drains', () => {
    const start = { results: lane(5, 10) } as never;
    assert.deepEqual(healthOf(status({}), start), { healthy: true, waiting: [] });
    assert.deepEqual(healthOf(status({ connected: false }), start).waiting, ['link']);
    assert.deepEqual(healthOf(status({ engine: null }), start).waiting, ['engine digits']);
    assert.deepEqual(healthOf(status({ engine: 'tfjs:wasm' }), start).waiting, []);
    assert.deepEqual(healthOf(status({ results: lane(5, 10) }), start).waiting, ['outbox results']);
    assert.deepEqual(healthOf(status({ results: lane(4, 11) }), start).waiting, []);
  });

  it('a real agent started from a slot on trial confirms its health to the launcher', async () => {
    const dir = tempDir('outpost-update-health-');
    cleanups.push(() => dir.remove());
    const hub = await startHub(join(dir.path, 'hub'));
    cleanups.push(() => hub.close());
    const creds = await enroll(hub);
    const config = join(dir.path, 'agent.json');
    writeFileSync(
      config,
      JSON.stringify({
        deviceId: creds.id,
        deviceSecret: creds.secret,
        dataDir: join(dir.path, 'agent-data'),
        hub: { mqttUrl: hub.mqtt.url },
        api: { port: 0 },
        logLevel: 'warn',
      }),
    );
    const slots = new Slots(join(dir.path, 'slots'));
    slots.init('0.1.0');
    const cli = pathToFileURL(join(REPO_ROOT, 'dist', 'cli', 'main.js')).href;
    const install = (slot: SlotName) => {
      mkdirSync(slots.dir(slot), { recursive: true });
      writeFileSync(
        join(slots.dir(slot), 'agent.mjs'),
        `process.argv.splice(2, process.argv.length, 'agent', '--config', ${JSON.stringify(config)});\nawait import(${JSON.stringify(cli)});\n`,
      );
    };
    install('a');
    install('b');
    slots.beginTrial('0.1.1', 120_000, Date.now());
    const launcher = new Launcher({
      slots,
      entry: (slotDir) => ({ file: join(slotDir, 'agent.mjs'), args: [] }),
      log: testLogger(),
    });
    cleanups.push(() => launcher.stop());
    launcher.start();
    await waitFor(() => slots.load().trial === undefined, 'the trial confirmed', 90_000);
    const state = slots.load();
    assert.deepEqual([state.current, state.versions.b, state.lastFailure], ['b', '0.1.1', undefined]);
    assert.deepEqual([launcher.running?.slot, launcher.running?.trial], ['b', false]);
  });
});
