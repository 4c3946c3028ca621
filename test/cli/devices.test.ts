import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Hub } from '../../hub/index.js';
import { startHub, tempDir } from '../helpers/hub.js';
import { runCli } from './run-cli.js';

let hub: Hub;
let dir: Awaited<ReturnType<typeof tempDir>>;
let env: Record<string, string>;

before(async () => {
  dir = await tempDir();
  hub = await startHub(dir.path);
  env = { OUTPOST_CLI_HUB_URL: hub.http.url, OUTPOST_CLI_ADMIN_TOKEN: hub.adminToken };
});

after(async () => {
  await hub.close();
  await dir.remove();
});

test('devices add enrolls with name and labels and shows the secret once', async () => {
  const added = await runCli(
    ['devices', 'add', 'cli-1', '--name', 'Dock 3', '--label', 'site=rdam', '--label', 'row=2', '--json'],
    env,
  );
  assert.equal(added.code, 0, added.stderr);
  const created = JSON.parse(added.stdout);
  assert.equal(created.id, 'cli-1');
  assert.ok(created.secret.length >= 32);
  const device = await hub.store.getDevice('cli-1');
  assert.deepEqual(device?.labels, { site: 'rdam', row: '2' });
  assert.equal(device?.name, 'Dock 3');
  assert.ok(!JSON.stringify(device).includes(created.secret), 'the store keeps only a hash');

  const again = await runCli(['devices', 'add', 'cli-1'], env);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /HUB_DEVICE_EXISTS/);
});

test('devices list prints a table and --json', async () => {
  await runCli(['devices', 'add', 'cli-2'], env);
  const table = await runCli(['devices', 'list'], env);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^ID\s+NAME\s+STATUS\s+LAST SEEN\s+APPLIED\/DESIRED\s+AGENT\s+DELIVERY$/m);
  assert.match(table.stdout, /^cli-2\s+offline\s+never\s+0\/0$/m);
  const json = JSON.parse((await runCli(['devices', 'list', '--json'], env)).stdout);
  assert.ok(json.devices.some((d: { id: string }) => d.id === 'cli-2'));
});

test('devices list shows the download progress a device reports', async () => {
  await runCli(['devices', 'add', 'cli-3'], env);
  const models = [
    { name: 'digits', desired: '1.2.0', downloading: { version: '1.2.0', bytes: 430, total: 1000 } },
  ];
  assert.ok(
    await hub.store.setReported('cli-3', { appliedRev: 1, agentVersion: '0.1.0', models }, Date.now()),
  );
  const table = await runCli(['devices', 'list'], env);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^cli-3\s.*\s0\.1\.0\s+digits 1\.2\.0 43%$/m);
  const json = JSON.parse((await runCli(['devices', 'list', '--json'], env)).stdout);
  const device = json.devices.find((d: { id: string }) => d.id === 'cli-3');
  assert.deepEqual(device.reported.models, models, '--json passes the report through');
});

test('a wrong admin token is refused with the hub error code', async () => {
  const res = await runCli(['devices', 'list'], {
    ...env,
    OUTPOST_CLI_ADMIN_TOKEN: 'wrong-token-0123456789',
  });
  assert.equal(res.code, 1);
  assert.match(res.stderr, /HUB_UNAUTHORIZED/);
});
