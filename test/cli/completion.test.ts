import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/hub.js';
import { runBuiltCli } from '../packaging/process-helpers.js';

/** What the completion function offers for `words` (the last one being completed). */
function complete(script: string, words: string[]): string[] {
  const line = `source ${script}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _outpost; printf '%s\\n' "\${COMPREPLY[@]}"`;
  return execFileSync('bash', ['-c', line], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

test("outpost completion bash completes commands, subcommands and each command's own flags", async () => {
  const res = await runBuiltCli(['completion', 'bash']);
  assert.equal(res.code, 0, res.stderr);
  const dir = await tempDir();
  try {
    const script = join(dir.path, 'outpost.bash');
    writeFileSync(script, res.stdout);
    assert.deepEqual(complete(script, ['outpost', 'ag']), ['agent', 'agents']);
    assert.deepEqual(complete(script, ['outpost', 'agents', 'pu']), ['push']);
    assert.deepEqual(complete(script, ['outpost', 'agent', 'la']), ['launch']);
    assert.deepEqual(complete(script, ['outpost', 'rollouts', 'cr']), ['create']);
    assert.deepEqual(complete(script, ['outpost', 'hub', '--http.p']), ['--http.port']);
    assert.deepEqual(complete(script, ['outpost', 'agent', 'join', '--d']), ['--data-dir']);
    assert.ok(
      complete(script, ['outpost', 'agent', '--delivery.t']).includes('--delivery.trusted-key-files'),
    );
  } finally {
    await dir.remove();
  }
  const zsh = await runBuiltCli(['completion', 'zsh']);
  assert.match(zsh.stdout, /^#compdef outpost\n/);
  assert.equal((await runBuiltCli(['completion', 'fish'])).code, 2);
});
