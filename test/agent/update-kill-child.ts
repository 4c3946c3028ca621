/**
 * Child of update-kill.test.ts: one device's update as the launcher process runs it —
 * install the bundle into the inactive slot on trial (unless already switched), then start
 * the current slot's agent. The test SIGKILLs its process group at arbitrary points.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { prepareUpdate } from '../../agent/update/bundle.js';
import { Launcher } from '../../agent/update/launcher.js';
import { Slots } from '../../agent/update/slots.js';
import { testLogger } from '../helpers/agent.js';

const [root, bundleFile, signedFile, trustedFile] = process.argv.slice(2) as [string, string, string, string];
const slots = new Slots(join(root, 'slots'));
const signed = JSON.parse(readFileSync(signedFile, 'utf8'));
const state = slots.load();
if (state.trial === undefined && state.versions[state.current] !== signed.manifest.version) {
  await prepareUpdate({
    slots,
    bundleFile,
    signed,
    trustedKeys: [readFileSync(trustedFile, 'utf8')],
    confirmMs: 60_000,
    now: Date.now(),
  });
}
new Launcher({
  slots,
  entry: (slotDir) => ({ file: join(slotDir, 'agent.mjs'), args: [] }),
  log: testLogger(),
}).start();
