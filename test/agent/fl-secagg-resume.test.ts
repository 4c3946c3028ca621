import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SecAggRunner } from '../../agent/federated/secagg-runner.js';
import { AGENT_DB_FILE, type AgentStore, openAgentStore } from '../../agent/store/index.js';
import { agentMigrations } from '../../agent/store/migrations.js';
import type { AgentEvent } from '../../agent/types.js';
import { type ModelWeights, SecAggServer, secureInputLength } from '../../federated/index.js';
import { runMigrations } from '../../shared/index.js';
import type { FlSecAgg, FlTask } from '../../shared/messages/federated.js';
import { tempDir, testLogger } from '../helpers/agent.js';

// A device's side of a secure round lives in its agent store (`fl_secagg`), written with the
// outbox event that answers each phase: three devices with real stores run a round against
// fl-core's server, one of them closed and reopened before every phase. It resumes with the
// keys it advertised, sends each phase's message once, and the sum is the plain weighted sum.

const SHAPES = [{ name: 'w', shape: [4] }];
const MAX_EXAMPLES = 200;
const PARAMS = {
  round: 1,
  threshold: 2,
  length: secureInputLength(SHAPES),
  scale: 65536,
  maxAbs: 1,
  maxClients: 8,
};
const DEVICES = [
  { id: 'res-a', delta: 0.1, examples: 50 },
  { id: 'res-b', delta: 0.2, examples: 100 },
  { id: 'res-c', delta: 0.3, examples: 150 },
];

const dirs: Array<{ remove(): void }> = [];
const stores: AgentStore[] = [];
after(() => {
  for (const s of stores) s.close();
  for (const d of dirs) d.remove();
});

const delta = (v: number): ModelWeights => [{ name: 'w', shape: [4], values: new Float32Array(4).fill(v) }];

function task(phase: FlSecAgg['phase'], more: Partial<FlSecAgg> = {}, round = 1): FlTask {
  return {
    id: 'resume',
    round,
    secagg: { phase, params: { ...PARAMS, round }, maxExamples: MAX_EXAMPLES, ...more },
  } as FlTask;
}

/** One device: its store on disk and a runner over it; `restart` closes both and opens them again. */
function device(id: string) {
  const dir = tempDir(`outpost-secagg-${id}-`);
  dirs.push(dir);
  let failNext = false;
  const d = {
    id,
    store: undefined as unknown as AgentStore,
    runner: undefined as unknown as SecAggRunner,
    open() {
      d.store = openAgentStore({ dataDir: dir.path, durability: 'crash-safe' });
      stores.push(d.store);
      const enqueue = (events: AgentEvent[]) => {
        for (const e of events) {
          d.store.outbox.enqueue(e.lane ?? 'learning', e.type, JSON.stringify(e.body), Date.now(), 1 << 20);
          if (failNext) {
            failNext = false;
            throw new Error('outbox refused');
          }
        }
      };
      d.runner = new SecAggRunner({ deviceId: id, db: d.store.db, enqueue, log: testLogger() });
    },
    restart() {
      d.store.close();
      d.open();
    },
    /** The next enqueue throws after writing (its transaction must roll back). */
    failOnce() {
      failNext = true;
    },
    /** Bodies of the learning events of `type` in the outbox. */
    // biome-ignore lint/suspicious/noExplicitAny: event bodies as JSON
    events(type: string): any[] {
      const rows = d.store.db
        .prepare("SELECT body FROM outbox WHERE lane = 'learning' AND type = ? ORDER BY seq")
        .all(type) as Array<{ body: string }>;
      return rows.map((r) => JSON.parse(r.body));
    },
    phase(): string | undefined {
      const row = d.store.db.prepare('SELECT phase FROM fl_secagg').get() as { phase: string } | undefined;
      return row?.phase;
    },
  };
  d.open();
  return d;
}

describe('a secure round in the agent store', () => {
  it('resumes after a restart before every phase with the same keys, each message sent once', () => {
    const devices = DEVICES.map((x) => ({ ...x, d: device(x.id) }));
    const b = devices[1]?.d as ReturnType<typeof device>;
    const c = devices[2]?.d as ReturnType<typeof device>;
    const server = new SecAggServer(PARAMS);

    for (const x of devices) {
      x.d.runner.start(task('advertise'), {
        delta: delta(x.delta),
        examples: x.examples,
        norm: 0.4,
        clipped: false,
        loss: 1,
        accuracy: 0.5,
      });
      server.receiveAdvertisement(x.d.events('fl.secagg.advertise')[0].advertisement);
    }
    b.restart();
    assert.ok(b.runner.has(task('advertise')), 'the round is still known after a restart');
    assert.equal(b.runner.step(task('advertise')), false);
    assert.equal(b.events('fl.secagg.advertise').length, 1, 'keys advertised once, not generated again');

    const share = task('share', { roster: server.roster() });
    b.restart();
    // A refused enqueue rolls the step back whole: the phase is not recorded, it is answered again.
    c.failOnce();
    assert.throws(() => c.runner.step(share), /outbox refused/);
    assert.equal(c.phase(), 'advertise');
    assert.equal(c.events('fl.secagg.shares').length, 0);
    for (const x of devices) {
      assert.equal(x.d.runner.step(share), false);
      assert.equal(x.d.phase(), 'share');
      server.receiveShares(x.id, x.d.events('fl.secagg.shares')[0].shares);
    }
    b.restart();
    b.runner.step(share);
    assert.equal(b.events('fl.secagg.shares').length, 1, 'shares sent once across the restart');

    b.restart();
    for (const x of devices) {
      const mask = task('mask', { inbox: server.inboxFor(x.id), submitted: server.submitted() });
      assert.equal(x.d.runner.step(mask), false);
      const [chunk] = x.d.events('fl.update.chunk');
      assert.equal(chunk.examples, x.examples);
      const bytes = Buffer.from(chunk.bytes, 'base64');
      server.receiveMaskedInput(x.id, new Uint32Array(new Uint8Array(bytes).buffer));
    }
    const input = b.store.db.prepare('SELECT input FROM fl_secagg').get() as { input: Buffer | null };
    assert.equal(input.input, null, 'the plain delta leaves the disk once masked');

    b.restart();
    assert.equal(
      b.runner.step(task('mask', { inbox: server.inboxFor(b.id), submitted: server.submitted() })),
      false,
    );
    assert.equal(b.events('fl.update.chunk').length, 1, 'masked input sent once across the restart');
    const unmask = task('unmask', { survivors: server.survivors() });
    for (const x of devices) {
      assert.equal(x.d.runner.step(unmask), true, 'the round ends here');
      assert.equal(x.d.phase(), undefined, 'its state deleted with the answer');
      server.receiveUnmasking(x.d.events('fl.secagg.unmask')[0].response);
    }
    b.restart();
    assert.equal(b.runner.step(unmask), false);
    assert.equal(b.events('fl.secagg.unmask').length, 1);

    const { sum, survivors } = server.finish();
    assert.deepEqual(survivors, DEVICES.map((x) => x.id).sort());
    const w = DEVICES.map((x) => x.examples / MAX_EXAMPLES);
    const expected = DEVICES.reduce((n, x, i) => n + (w[i] as number) * x.delta, 0);
    const bound = DEVICES.length / (2 * PARAMS.scale) + 1e-6;
    for (let k = 0; k < 4; k++)
      assert.ok(Math.abs((sum[k] as number) - expected) <= bound, `${sum[k]} ≠ ${expected}`);
    assert.ok(Math.abs((sum[4] as number) - w.reduce((a, x) => a + x, 0)) <= bound);
  });

  it('leaves a round whose phase passed it by, and deletes the state of superseded rounds', () => {
    const d = device('res-gone');
    const input = { delta: delta(0.1), examples: 10, norm: 0.2, clipped: false, loss: 1, accuracy: 0.5 };
    d.runner.start(task('advertise'), input);
    d.restart();
    // Down through the share phase: at mask, it never shared, so it is out (and its state goes).
    assert.equal(d.runner.step(task('mask', { submitted: ['other-a', 'other-b'] })), true);
    assert.equal(d.phase(), undefined);
    assert.equal(d.events('fl.update.chunk').length, 0);

    d.runner.start(task('advertise', {}, 2), input);
    d.restart();
    d.runner.prune(task('advertise', {}, 2));
    assert.ok(d.runner.has(task('advertise', {}, 2)), 'the current round is kept');
    d.runner.prune(task('advertise', {}, 3));
    assert.equal(d.runner.has(task('advertise', {}, 2)), false, 'a superseded round goes');
    d.runner.start(task('advertise', {}, 3), input);
    d.runner.prune(undefined);
    assert.equal(d.phase(), undefined, 'no task: nothing kept');
  });

  it('is added to a store of an earlier schema, whose queued events stay', () => {
    const dir = tempDir('outpost-secagg-upgrade-');
    dirs.push(dir);
    const all = agentMigrations('u'.repeat(22), 0);
    // The store as the release before the table left it (every migration but the last).
    const old = new Database(join(dir.path, AGENT_DB_FILE));
    runMigrations(old, all.slice(0, -1));
    old
      .prepare(
        "INSERT INTO outbox (lane, seq, type, at, body, bytes) VALUES ('learning', 1, 'x', 0, '{}', 2)",
      )
      .run();
    old.exec("UPDATE lane_counters SET next_seq = 2, pending_bytes = 2 WHERE lane = 'learning'");
    old.close();
    const store = openAgentStore({ dataDir: dir.path, durability: 'crash-safe' });
    stores.push(store);
    assert.equal(store.db.pragma('user_version', { simple: true }), all.length);
    assert.equal((store.db.prepare('SELECT COUNT(*) AS n FROM outbox').get() as { n: number }).n, 1);
    const runner = new SecAggRunner({
      deviceId: 'res-up',
      db: store.db,
      enqueue: () => undefined,
      log: testLogger(),
    });
    const input = { delta: delta(0.1), examples: 10, norm: 0.2, clipped: false, loss: 1, accuracy: 0.5 };
    runner.start(task('advertise'), input);
    assert.ok(runner.has(task('advertise')));
  });
});
