#!/usr/bin/env node
// biome-ignore-all lint/suspicious/noConsole: a command-line script; its output is for the operator
// One-shot enrolment for compose.yaml: for each device id given, unless
// DIR/ID.json already exists, enrolls the device through the hub's admin API and writes the
// agent config file (mode 0600) that `outpost agent --config` reads, from the enrollment's join
// token as `outpost agent join` does: device id and secret, the hub's public URLs and its
// model-signing keys (and DIR/ID-hub-ca.pem when the hub uses TLS). The data dir is left to the
// agent's environment.
// Usage: node docker/enroll-agents.mjs DIR ID... (env OUTPOST_CLI_HUB_URL, OUTPOST_CLI_ADMIN_TOKEN).
// Waits up to ENROLL_WAIT_S (default 120) for the hub. Exit 0 done, 1 refused, 2 bad usage.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentConfigFromToken } from '../dist/cli/commands/agent-join.js';
import { decodeJoinToken } from '../dist/shared/index.js';

const [dir, ...ids] = process.argv.slice(2);
const hub = process.env.OUTPOST_CLI_HUB_URL ?? 'http://hub:8080';
const token = process.env.OUTPOST_CLI_ADMIN_TOKEN;
if (!dir || ids.length === 0 || !token) {
  console.error(
    'usage: OUTPOST_CLI_ADMIN_TOKEN=... enroll-agents.mjs DIR ID... (OUTPOST_CLI_HUB_URL optional)',
  );
  process.exit(2);
}
const deadline = Date.now() + Number(process.env.ENROLL_WAIT_S ?? 120) * 1000;

async function waitForHub() {
  for (;;) {
    try {
      if ((await fetch(new URL('/healthz', hub))).ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`hub at ${hub} did not answer /healthz in time`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

await waitForHub();
mkdirSync(dir, { recursive: true });
for (const id of ids) {
  const file = join(dir, `${id}.json`);
  if (existsSync(file)) {
    console.log(`${id}: already enrolled (${file})`);
    continue;
  }
  const res = await fetch(new URL('/v1/devices', hub), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ id, name: `compose ${id}` }),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    // A device enrolled before whose secret file was lost cannot be recovered: say so.
    console.error(`${id}: hub refused enrolment (${res.status}): ${JSON.stringify(body.error ?? body)}`);
    process.exit(1);
  }
  const joinToken = decodeJoinToken(body.joinToken);
  const { dataDir: _, ...config } = agentConfigFromToken(joinToken, dir);
  if (joinToken.caPem !== undefined) {
    const ca = join(dir, `${id}-hub-ca.pem`);
    writeFileSync(ca, joinToken.caPem, { mode: 0o644 });
    config.tls = { caFile: ca };
  }
  writeFileSync(file, `${JSON.stringify(config)}\n`, { mode: 0o600 });
  console.log(`${id}: enrolled (${file})`);
}
