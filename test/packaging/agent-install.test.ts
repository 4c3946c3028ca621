/**
 * `outpost agent install`: --dry-run prints the unit and a masked env file
 * and writes nothing; a real run into temp directories writes the unit (checked by
 * `systemd-analyze verify` where available) and a 0600 env file holding the secret that
 * the agent's own config loader accepts; bad options are usage errors naming the flag.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { AGENT_ENV_PREFIX, AgentConfigSchema } from '../../agent/index.js';
import { configFromEnv } from '../../shared/index.js';
import { tempDir } from '../helpers/hub.js';
import { root, runBuiltCli } from './process-helpers.js';

const SECRET = 'install-test-secret-0123456789abcdef';
const main = resolve(root, 'dist/cli/main.js');

function envFileValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line);
    if (m) out[m[1] as string] = m[2] as string;
  }
  return out;
}

test('agent install --dry-run prints unit and masked env file, writes nothing', async () => {
  const dir = await tempDir('outpost-install-');
  try {
    const args = ['agent', 'install', '--device-id', 'pi-07', '--user', 'pi', '--unit-dir', dir.path];
    const res = await runBuiltCli(
      [...args, '--environment-file', join(dir.path, 'agent.env'), '--main', main, '--dry-run'],
      {
        OUTPOST_AGENT_DEVICE_SECRET: SECRET,
      },
    );
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^User=pi$/m);
    assert.match(res.stdout, /^Group=pi$/m);
    assert.match(res.stdout, new RegExp(`^ExecStart=${process.execPath} ${main} agent launch$`, 'm'));
    assert.match(res.stdout, /^OUTPOST_AGENT_DEVICE_SECRET=\*{8}$/m);
    assert.ok(!res.stdout.includes(SECRET), 'the secret is never printed');
    assert.deepEqual(readdirSync(dir.path), []);
    const json = await runBuiltCli([...args, '--main', main, '--dry-run', '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.equal(JSON.parse(json.stdout).unitPath, join(dir.path, 'outpost-agent.service'));
  } finally {
    await dir.remove();
  }
});

test('agent install writes a unit systemd accepts and a 0600 env file the agent config accepts', async (t) => {
  const dir = await tempDir('outpost-install-');
  try {
    const envFile = join(dir.path, 'etc', 'agent.env');
    const res = await runBuiltCli(
      ['agent', 'install', '--device-id', 'jetson-01', '--hub-mqtt-url', 'mqtts://hub.example:8883'].concat([
        '--user',
        'root',
        '--data-dir',
        join(dir.path, 'data'),
        '--environment-file',
        envFile,
        '--unit-dir',
        dir.path,
        '--main',
        main,
      ]),
      { OUTPOST_AGENT_DEVICE_SECRET: SECRET },
    );
    assert.equal(res.code, 0, res.stderr);
    const unitPath = join(dir.path, 'outpost-agent.service');
    const unit = readFileSync(unitPath, 'utf8');
    assert.match(unit, new RegExp(`^EnvironmentFile=${envFile}$`, 'm'));
    assert.match(unit, new RegExp(`^ReadWritePaths=${join(dir.path, 'data')}$`, 'm'));
    assert.match(unit, /^Restart=on-failure$/m);
    assert.match(unit, /^WantedBy=multi-user.target$/m);
    assert.equal(statSync(envFile).mode & 0o777, 0o600);
    const values = envFileValues(readFileSync(envFile, 'utf8'));
    assert.equal(values.OUTPOST_AGENT_DEVICE_SECRET, SECRET);
    const { NODE_ENV: _, ...agentEnv } = values;
    const parsed = AgentConfigSchema.safeParse(configFromEnv(agentEnv, AGENT_ENV_PREFIX));
    assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
    assert.equal(parsed.data.deviceId, 'jetson-01');
    assert.equal(parsed.data.hub.mqttUrl, 'mqtts://hub.example:8883');

    const verify = await new Promise<{ code: number; out: string } | null>((done) =>
      execFile('systemd-analyze', ['verify', unitPath], (err, o, e) => {
        if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') done(null);
        else done({ code: err ? Number(err.code ?? 1) : 0, out: o + e });
      }),
    );
    if (verify === null) {
      t.diagnostic('systemd-analyze not installed: unit checked structurally only');
      return;
    }
    // Only problems with this unit count (the host's own units may have warnings of their own).
    const ours = verify.out.split('\n').filter((l) => l.includes('outpost-agent.service'));
    assert.deepEqual(ours, [], verify.out);
    assert.equal(verify.code, 0, verify.out);
    // A broken unit is caught: the check can fail.
    const broken = join(dir.path, 'broken.service');
    writeFileSync(broken, unit.replace(/^ExecStart=.*$/m, 'ExecStart=relative/node agent'));
    const bad = await new Promise<string>((done) =>
      execFile('systemd-analyze', ['verify', broken], (_e, o, e) => done(o + e)),
    );
    assert.match(bad, /broken\.service/);
  } finally {
    await dir.remove();
  }
});

test('agent install: bad options are usage errors naming the flag', async () => {
  for (const [args, pattern] of [
    [[], /--device-id is required/],
    [['--device-id', 'a', '--user', 'Bad User'], /--user/],
    [['--device-id', 'a', '--data-dir', 'relative/dir'], /--data-dir must be an absolute path/],
    [['--device-id', 'a', '--hub-mqtt-url', 'http://x'], /--hub-mqtt-url/],
  ] as const) {
    const res = await runBuiltCli(['agent', 'install', ...args, '--dry-run']);
    assert.equal(res.code, 2, `${args.join(' ')}: ${res.stdout}`);
    assert.match(res.stderr, pattern);
  }
  assert.ok(existsSync(main), 'dist/cli/main.js missing: run npx tsc -b first');
});
