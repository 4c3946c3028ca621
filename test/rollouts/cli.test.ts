import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runRolloutsCommand } from '../../cli/commands/rollouts.js';
import { CliError } from '../../cli/exit-codes.js';
import type { Hub } from '../../hub/index.js';
import { configFromFlags } from '../../shared/index.js';
import { runCli } from '../cli/run-cli.js';
import { waitFor } from '../helpers/agent.js';
import { enroll } from '../helpers/hub.js';
import { classifierModel, push, rolloutHub } from './fleet.js';

// `outpost rollouts …` against a real hub: every action, the status table
// with its timeline, and bad input named with the right exit code. The command runs in
// process (what `main` calls, with the same flag parsing); one real process checks the exit
// code path end to end.

/** `outpost rollouts ARGS` in process: exit code (CliError's), stdout and stderr. */
async function rollouts(args: string[], env: Record<string, string>) {
  const { config: flags, positionals } = configFromFlags(args);
  const out: string[] = [];
  const log = console.log;
  const saved = { hub: process.env.OUTPOST_CLI_HUB_URL, token: process.env.OUTPOST_CLI_ADMIN_TOKEN };
  console.log = (...parts: unknown[]) => out.push(parts.join(' '));
  process.env.OUTPOST_CLI_HUB_URL = env.OUTPOST_CLI_HUB_URL;
  process.env.OUTPOST_CLI_ADMIN_TOKEN = env.OUTPOST_CLI_ADMIN_TOKEN;
  try {
    await runRolloutsCommand(positionals.slice(1), flags);
    return { code: 0, stdout: out.join('\n'), stderr: '' };
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    return { code: err.exitCode, stdout: out.join('\n'), stderr: `outpost: ${err.message}` };
  } finally {
    console.log = log;
    for (const [key, value] of [
      ['OUTPOST_CLI_HUB_URL', saved.hub],
      ['OUTPOST_CLI_ADMIN_TOKEN', saved.token],
    ] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

let env: Awaited<ReturnType<typeof rolloutHub>>;
let hub: Hub;
let cliEnv: Record<string, string>;

before(async () => {
  env = await rolloutHub();
  hub = env.hub;
  cliEnv = { OUTPOST_CLI_HUB_URL: hub.http.url, OUTPOST_CLI_ADMIN_TOKEN: hub.adminToken };
  await push(hub, 'clf', '1.0.0', classifierModel(1).bytes);
  await push(hub, 'clf', '2.0.0', classifierModel(2).bytes);
  for (let i = 0; i < 3; i++) await enroll(hub, { labels: { site: i < 2 ? 'rdam' : 'ams' } });
});
after(() => env.remove());

test('create, status, pause, resume, abort and rollback through the CLI', async () => {
  const created = await rollouts(
    [
      'rollouts',
      'create',
      '--model',
      'clf',
      '--version',
      '2.0.0',
      '--selector',
      'site=rdam',
      '--stages',
      '50,100',
      '--bake',
      '1s',
      '--gate',
      'error_rate<0.01',
      '--gate',
      'requests>=10',
      '--device-deadline',
      '500ms',
      '--json',
    ],
    cliEnv,
  );
  assert.equal(created.code, 0, created.stderr);
  const rollout = JSON.parse(created.stdout);
  assert.deepEqual(rollout.spec.stages, [50, 100]);
  assert.equal(rollout.spec.bakeMs, 1000);
  assert.deepEqual(rollout.spec.gates, ['error_rate<0.01', 'requests>=10']);
  // The device without an agent never reports: it is excluded at its deadline.
  await waitFor(
    async () => (await hub.store.listRolloutDevices(rollout.id)).some((d) => d.excludedAt !== null),
    'a device excluded',
  );
  const status = await rollouts(['rollouts', 'status', rollout.id], cliEnv);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /canary clf@2\.0\.0 {2}RUNNING/);
  assert.match(status.stdout, /error_rate<0\.01 +health +– +pending/);
  assert.match(status.stdout, /timeline:\n.*created +canary clf@2\.0\.0: 50% → 100%/);
  assert.match(status.stdout, /excluded +\S+: no metrics of 2\.0\.0 within 500 ms/);
  const listed = await rollouts(['rollouts', 'list'], cliEnv);
  assert.match(listed.stdout, new RegExp(`${rollout.id} +canary +clf +2\\.0\\.0 +running +1/2`));

  assert.match((await rollouts(['rollouts', 'pause', rollout.id], cliEnv)).stdout, /paused/);
  const twice = await rollouts(['rollouts', 'pause', rollout.id], cliEnv);
  assert.equal(twice.code, 1);
  assert.match(twice.stderr, /HUB_ROLLOUT_CONFLICT/);
  assert.match((await rollouts(['rollouts', 'resume', rollout.id], cliEnv)).stdout, /running/);
  assert.match(
    (await rollouts(['rollouts', 'abort', rollout.id, '--reason', 'wrong build'], cliEnv)).stdout,
    /aborted: wrong build/,
  );
  const back = await rollouts(['rollouts', 'rollback', rollout.id, '--json'], cliEnv);
  assert.equal(JSON.parse(back.stdout).state, 'rolled-back');
  // The devices it pinned had no version before: their model entry is removed.
  for (const d of await hub.store.listRolloutDevices(rollout.id)) {
    assert.equal((await hub.store.getDesired(d.deviceId))?.models, undefined);
  }
});

test('bad input is named, with exit code 2 for usage and 1 for a refusal', async () => {
  const noModel = await runCli(['rollouts', 'create', '--version', '2.0.0'], cliEnv);
  assert.equal(noModel.code, 2);
  assert.match(noModel.stderr, /--model is required/);
  const badGate = await rollouts(
    ['rollouts', 'create', '--model', 'clf', '--version', '2.0.0', '--gate', 'p95<50'],
    cliEnv,
  );
  assert.equal(badGate.code, 1);
  assert.match(badGate.stderr, /unknown metric "p95" \(known: requests, compared, error_rate/);
  const badStages = await rollouts(
    ['rollouts', 'create', '--model', 'clf', '--version', '2.0.0', '--stages', '50,10'],
    cliEnv,
  );
  assert.match(badStages.stderr, /stages must be ascending/);
  const abNoControl = await rollouts(
    ['rollouts', 'create', '--model', 'clf', '--version', '2.0.0', '--mode', 'ab'],
    cliEnv,
  );
  assert.match(abNoControl.stderr, /control: mode ab needs a control version/);
  const unknown = await rollouts(['rollouts', 'status', 'r-0123456789ab'], cliEnv);
  assert.match(unknown.stderr, /HUB_ROLLOUT_NOT_FOUND/);
});
