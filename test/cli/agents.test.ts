/**
 * `outpost agents bundle|push|list|show|delete` and `outpost rollouts create --agent` against a
 * real hub; the AGENT cell `devices list` and the dashboard show for each update state.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { agentUpdateCell, OUTPOST_VERSION } from '../../shared/index.js';
import { REPO_ROOT } from '../compat/previous-release.js';
import { Cleanups, startHub, tempDir } from '../helpers/hub.js';
import { runCli } from './run-cli.js';

const cleanups = new Cleanups();
after(() => cleanups.run());

test('agents bundle, push, list, show, rollouts create --agent, delete refused while in use', async () => {
  const dir = tempDir('outpost-agents-cli-');
  cleanups.add(() => dir.remove());
  const hub = await startHub(join(dir.path, 'hub'));
  cleanups.add(() => hub.close());
  const env = { OUTPOST_CLI_HUB_URL: hub.http.url, OUTPOST_CLI_ADMIN_TOKEN: hub.adminToken };
  const out = join(dir.path, 'bundle.tgz');

  const built = await runCli(
    ['agents', 'bundle', REPO_ROOT, '--out', out, '--deps', 'link', '--json'],
    env,
    180_000,
  );
  assert.equal(built.code, 0, built.stderr);
  const bundle = JSON.parse(built.stdout);
  assert.equal(bundle.info.version, OUTPOST_VERSION);
  assert.equal(bundle.info.entry, 'package/dist/cli/main.js');

  const pushed = await runCli(['agents', 'push', out, '--json'], env);
  assert.equal(pushed.code, 0, pushed.stderr);
  assert.equal(JSON.parse(pushed.stdout).sha256, bundle.sha256);
  const again = await runCli(['agents', 'push', out, '--sha256', '0'.repeat(64)], env);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /HUB_BAD_REQUEST|HUB_ARTIFACT_MISMATCH/);

  const list = await runCli(['agents', 'list'], env);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`^${OUTPOST_VERSION.replaceAll('.', '\\.')}\\s+linux/`, 'm'));
  const show = await runCli(['agents', 'show', OUTPOST_VERSION, '--json'], env);
  assert.equal(JSON.parse(show.stdout).manifests[0].manifest.sha256, bundle.sha256);

  const usage = await runCli(['rollouts', 'create', '--agent', OUTPOST_VERSION, '--model', 'm'], env);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--agent takes no --model/);
  const badGate = await runCli(['rollouts', 'create', '--agent', OUTPOST_VERSION, '--gate', 'p95_ms<5'], env);
  assert.equal(badGate.code, 1);
  assert.match(
    badGate.stderr,
    /unknown metric "p95_ms" \(known: updated, failed, online_s, crashes, errors, undrained\)/,
  );
  const created = await runCli(
    ['rollouts', 'create', '--agent', OUTPOST_VERSION, '--stages', '50,100', '--gate', 'online_s<=120'],
    env,
  );
  assert.equal(created.code, 0, created.stderr);
  assert.match(
    created.stdout,
    new RegExp(`created r-[0-9a-f]{12} \\(canary agent ${OUTPOST_VERSION.replaceAll('.', '\\.')}\\)`),
  );
  const id = /r-[0-9a-f]{12}/.exec(created.stdout)?.[0] as string;
  const status = await runCli(['rollouts', 'status', id], env);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /failed<1/, 'the implied gate is shown');

  const inUse = await runCli(['agents', 'delete', OUTPOST_VERSION], env);
  assert.equal(inUse.code, 1);
  assert.match(inUse.stderr, /HUB_AGENT_BUNDLE_IN_USE .*rollout r-/);
  assert.equal((await runCli(['rollouts', 'abort', id], env)).code, 0);
  const deleted = await runCli(['agents', 'delete', OUTPOST_VERSION], env);
  assert.equal(deleted.code, 0, deleted.stderr);
});

test('the AGENT cell says where each device stands', () => {
  const u = (update: Record<string, unknown>) => ({
    agentVersion: '0.1.0',
    update: { managedBy: 'launcher', ...update },
  });
  assert.equal(agentUpdateCell({ agentVersion: '0.1.0' }), '0.1.0');
  assert.equal(agentUpdateCell(u({ state: 'current' })), '0.1.0');
  assert.equal(
    agentUpdateCell(
      u({ state: 'downloading', desired: '0.2.1', downloading: { version: '0.2.1', bytes: 43, total: 100 } }),
    ),
    '0.1.0 → 0.2.1 43%',
  );
  assert.equal(agentUpdateCell(u({ state: 'installing', desired: '0.2.1' })), '0.1.0 → 0.2.1 installing');
  assert.equal(agentUpdateCell({ ...u({ state: 'trial' }), agentVersion: '0.2.1' }), '0.2.1 on trial');
  assert.equal(
    agentUpdateCell(u({ state: 'failed', failed: { version: '0.2.0' } })),
    '0.1.0 (0.2.0 reverted)',
  );
  assert.equal(
    agentUpdateCell(u({ state: 'refused', refused: { version: '0.2.1', code: 'AGENT_BUNDLE_PLATFORM' } })),
    '0.1.0 (0.2.1 refused AGENT_BUNDLE_PLATFORM)',
  );
  assert.equal(agentUpdateCell(u({ state: 'refused', managedBy: 'image' })), '0.1.0 (by image)');
  assert.equal(agentUpdateCell(null), '');
});
