/**
 * The dashboard's device page from a real hub with a real agent: its version and last seen,
 * a model refusal with code and reason, the engines it rejected (as the device reported
 * them), the auth failures the broker counted while the device was disabled, a client-id
 * conflict, the loss ledger and the link's last error, each in its table.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { AGENT_VERSION, createAgent } from '../../agent/index.js';
import { modelReport, pushModel } from '../delivery/helpers.js';
import { agentTestConfig, tempDir, testLogger } from '../helpers/agent.js';
import { Cleanups } from '../helpers/fixtures.js';
import { api, enroll, tempDir as hubTempDir, loginDevice, startHub, waitFor } from '../helpers/hub.js';
import { classifierModel } from '../helpers/models.js';

/** The text of each row of the table with this id, cells joined by ' | ', tags stripped. */
function tableRows(html: string, id: string): string[] {
  const table = new RegExp(`<table[^>]*id="${id}"[^>]*>([\\s\\S]*?)</table>`).exec(html)?.[1];
  assert.ok(table !== undefined, `no table ${id}`);
  return [...table.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((m) =>
    [...(m[1] as string).matchAll(/<t[dh][^>]*>([\s\S]*?)<\/t[dh]>/g)]
      .map((c) =>
        (c[1] as string)
          .replace(/<[^>]+>/g, '')
          .replace(/&#39;/g, "'")
          .replace(/&quot;/g, '"'),
      )
      .join(' | '),
  );
}

test('device page: version, last seen, refusals, rejected engines, auth failures, id conflicts, ledger, last error', async (t) => {
  const cleanups = new Cleanups();
  try {
    const hubDir = await hubTempDir();
    cleanups.add(() => hubDir.remove());
    const hub = await startHub(hubDir.path);
    cleanups.add(() => hub.close());
    for (const [version, seed] of [
      ['2.0.0', 2],
      ['1.5.0', 3],
    ] as const)
      assert.equal((await pushModel(hub, 'clf', version, classifierModel(seed).bytes)).status, 201);
    const creds = await enroll(hub, { id: 'page-1' });
    const agent = await createAgent(
      agentTestConfig({
        deviceId: creds.id,
        deviceSecret: creds.secret,
        dataDir: tempDir().path,
        hub: { mqttUrl: hub.mqtt.url },
        // The CUDA profile on a host without CUDA: the agent rejects the GPU engines and says why.
        inference: { profile: 'x86-64-cuda', threads: 1 },
        delivery: {
          trustedKeys: [hub.delivery.registry.signingKey.keys.publicKeyPem],
          hubHttpUrl: hub.http.url,
          retryMinMs: 50,
          retryMaxMs: 500,
        },
      }),
      { logger: testLogger() },
    );
    cleanups.add(() => agent.close());

    // Reports every 5 s, so the state after the reconnect below arrives soon.
    assert.equal(
      (await api(hub, 'PUT', `/v1/devices/${creds.id}/desired`, { config: { reportIntervalS: 5 } })).status,
      200,
    );
    // A real refusal: an older version without a rollback flag.
    await hub.delivery.desired.setModel(creds.id, { name: 'clf', version: '2.0.0' });
    await waitFor(
      async () => (await modelReport(hub, creds.id, 'clf'))?.active?.version === '2.0.0',
      'v2 active',
      60_000,
    );
    await hub.delivery.desired.setModel(creds.id, { name: 'clf', version: '1.5.0' });
    await waitFor(
      async () => (await modelReport(hub, creds.id, 'clf'))?.refused?.code === 'AGENT_DOWNGRADE_REFUSED',
      'the downgrade refused',
      60_000,
    );

    // Disabled, the agent's reconnects are refused (auth failures, its link's last error) ...
    const online = async () => (await api(hub, 'GET', `/v1/devices/${creds.id}`)).body.online === true;
    await api(hub, 'POST', `/v1/devices/${creds.id}/disable`);
    await waitFor(async () => !(await online()), 'the disabled agent offline', 30_000);
    await new Promise<void>((resolve) => {
      const probe = mqtt.connect(hub.mqtt.url, {
        clientId: creds.id,
        username: creds.id,
        password: creds.secret,
        reconnectPeriod: 0,
      });
      probe.once('error', () => resolve());
      probe.once('close', () => resolve());
    });
    // The agent's own attempts must have been refused before it is enabled again: on a loaded
    // machine a reconnect sent while disabled may otherwise be checked only after the enable.
    await waitFor(() => agent.status().link.lastError !== null, "the agent's reconnect refused", 30_000);
    // ... and back, it reconnects and reports that error.
    await api(hub, 'POST', `/v1/devices/${creds.id}/enable`);
    const reported = await waitFor(
      async () => {
        const d = (await api(hub, 'GET', `/v1/devices/${creds.id}`)).body;
        return d.online === true && typeof d.reported?.link?.lastError === 'string' && d.reported;
      },
      'the agent back online reporting its last link error',
      60_000,
    );

    // A second connection with the device's id takes its session over.
    const twin = await loginDevice(hub.mqtt.url, creds);
    await twin.endAsync();
    await waitFor(
      async () => (await api(hub, 'GET', `/v1/devices/${creds.id}`)).body.clientIdConflicts > 0,
      'the conflict counted',
    );

    const res = await fetch(`${hub.http.url}/dashboard/devices/${creds.id}`, {
      headers: { authorization: `Basic ${Buffer.from(`admin:${hub.adminToken}`).toString('base64')}` },
    });
    assert.equal(res.status, 200);
    const html = await res.text();
    const facts = tableRows(html, 'device-facts');
    assert.ok(facts.includes(`Agent | ${AGENT_VERSION}`), facts.join('\n'));
    assert.ok(
      facts.some((row) => /^Last seen \| \d+ s ago$/.test(row)),
      facts.join('\n'),
    );

    const refusals = tableRows(html, 'device-refusals');
    assert.ok(
      refusals.some(
        (row) => row.startsWith('clf | 1.5.0 | AGENT_DOWNGRADE_REFUSED | ') && /older than/.test(row),
      ),
      refusals.join('\n'),
    );

    const rejected = tableRows(html, 'device-rejected-engines').slice(1);
    const expected = (reported.inference?.models ?? []).flatMap(
      (m: {
        name: string;
        version: string;
        rejected?: Array<{ engine: string; stage: string; reason: string }>;
      }) => (m.rejected ?? []).map((e) => `${m.name} ${m.version} | ${e.engine} | ${e.stage} | ${e.reason}`),
    );
    // The CUDA profile's GPU engines are rejected on a host without an NVIDIA device.
    if (!existsSync('/dev/nvidia0')) assert.ok(expected.length > 0, JSON.stringify(reported.inference));
    for (const row of expected) assert.ok(rejected.includes(row), `${row}\n${rejected.join('\n')}`);
    t.diagnostic(`rejected engines shown: ${rejected.join('; ')}`);
    t.diagnostic(`health: ${tableRows(html, 'device-health').join('; ')}`);

    const health = tableRows(html, 'device-health');
    assert.ok(
      health.some((row) =>
        /^Auth failures \| [1-9]\d* \(.*connect\.bad-credentials [1-9]\d*.*\), last /.test(row),
      ),
      health.join('\n'),
    );
    assert.ok(
      health.some((row) => /^Client-id conflicts \| [1-9]/.test(row)),
      health.join('\n'),
    );
    assert.ok(
      health.includes(`Last link error | ${reported.link.lastError}`),
      `${health.join('\n')}\n${reported.link.lastError}`,
    );
    assert.ok(reported.link.lastError.length > 0);

    const ledger = tableRows(html, 'device-ledger');
    assert.equal(ledger[0], 'Lane | Dropped (quota) | Expired (TTL) | Unconfirmed | Skipped at hub');
    assert.ok(
      ledger.some((row) => row.startsWith('telemetry | ')),
      ledger.join('\n'),
    );
  } finally {
    await cleanups.run();
  }
});
