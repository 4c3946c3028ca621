import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { HEALTHY_MESSAGE, Launcher } from '../../agent/update/launcher.js';
import { type SlotName, Slots } from '../../agent/update/slots.js';
import { tempDir, testLogger, waitFor } from '../helpers/agent.js';

// Agents as tiny real programs: each writes what it was started with to `out/<version>.json`.
const AGENTS = {
  good: `process.send({ type: '${HEALTHY_MESSAGE}' });`,
  broken: 'process.exit(3);',
  silent: '',
};

function install(slots: Slots, slot: SlotName, version: string, kind: keyof typeof AGENTS): void {
  const dir = slots.dir(slot);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'agent.mjs'),
    `import { writeFileSync } from 'node:fs';
const out = process.argv[2];
writeFileSync(out + '/${version}.json', JSON.stringify({ slot: process.env.OUTPOST_SLOT, failure: process.env.OUTPOST_UPDATE_FAILURE ?? null }));
${AGENTS[kind]}
setInterval(() => {}, 1000);
process.on('SIGTERM', () => process.exit(0));
`,
  );
}

describe('agent launcher: two slots, health confirmation, revert', () => {
  const cleanups: Array<() => unknown> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  function setup() {
    const dir = tempDir('outpost-launcher-');
    cleanups.push(() => dir.remove());
    const out = join(dir.path, 'out');
    mkdirSync(out);
    const slots = new Slots(join(dir.path, 'slots'));
    slots.init('0.1.0');
    install(slots, 'a', '0.1.0', 'good');
    const launch = () => {
      const launcher = new Launcher({
        slots,
        entry: (slotDir) => ({ file: join(slotDir, 'agent.mjs'), args: [out] }),
        log: testLogger(),
        restartDelayMs: 50,
      });
      cleanups.push(() => launcher.stop());
      launcher.start();
      return launcher;
    };
    const started = (version: string) =>
      existsSync(join(out, `${version}.json`)) &&
      JSON.parse(readFileSync(join(out, `${version}.json`), 'utf8'));
    return { slots, launch, started };
  }

  it('reverts a release that exits at start, and the old agent learns why; a good one is confirmed', async () => {
    const { slots, launch, started } = setup();
    const launcher = launch();
    await waitFor(() => started('0.1.0'), '0.1.0 running');
    install(slots, slots.inactive(), '0.2.0', 'broken');
    slots.beginTrial('0.2.0', 60_000, Date.now());
    await launcher.stop();

    const second = launch();
    const back = await waitFor(
      () => second.running?.version === '0.1.0' && !second.running.trial && second.running,
      '0.1.0 back after the revert',
      30_000,
    );
    assert.equal(back.slot, 'a');
    const state = slots.load();
    assert.deepEqual([state.current, state.trial, state.lastFailure?.version], ['a', undefined, '0.2.0']);
    assert.match(state.lastFailure?.reason ?? '', /0\.2\.0 exited \(code 3\) before confirming its health/);
    assert.ok(started('0.2.0'), 'the broken release did start');
    const env = await waitFor(() => {
      const s = started('0.1.0');
      return s?.failure ? s : undefined;
    }, 'the old agent restarted with the failure');
    assert.equal(JSON.parse(env.failure).version, '0.2.0');
    await second.stop();

    install(slots, slots.inactive(), '0.2.1', 'good');
    slots.beginTrial('0.2.1', 60_000, Date.now());
    const third = launch();
    await waitFor(
      () => third.running?.version === '0.2.1' && !third.running.trial,
      '0.2.1 confirmed',
      30_000,
    );
    const confirmed = slots.load();
    assert.deepEqual(
      [confirmed.current, confirmed.trial, confirmed.lastFailure],
      ['b', undefined, undefined],
    );
    assert.deepEqual(confirmed.versions, { a: '0.1.0', b: '0.2.1' });
  });

  it('reverts a release that never confirms its health, killing it at the deadline', async () => {
    const { slots, launch } = setup();
    install(slots, 'b', '0.3.0', 'silent');
    slots.beginTrial('0.3.0', 1500, Date.now());
    const launcher = launch();
    await waitFor(() => launcher.running?.version === '0.1.0', '0.1.0 back after the deadline', 30_000);
    const state = slots.load();
    assert.equal(state.current, 'a');
    assert.match(
      state.lastFailure?.reason ?? '',
      /0\.3\.0 (did not confirm its health in time|was not confirmed)/,
    );
  });

  it('a launcher killed during a trial reverts at its next start once the deadline has passed', async () => {
    const { slots, launch } = setup();
    install(slots, 'b', '0.4.0', 'good');
    // The launcher died after the switch; it comes back after the trial's deadline.
    slots.beginTrial('0.4.0', 0, Date.now());
    const launcher = launch();
    await waitFor(() => launcher.running, 'an agent started');
    assert.deepEqual([launcher.running?.slot, launcher.running?.version], ['a', '0.1.0']);
    assert.match(
      slots.load().lastFailure?.reason ?? '',
      /0\.4\.0 was not confirmed healthy before its deadline/,
    );
  });
});
