/**
 * The dashboard in a real browser: Debian's Chromium driven by
 * playwright-core signs in with the admin token (Basic auth), and what is shown is checked:
 * the fleet lists the real agent online with its profile, model and engine and the device
 * that never connected offline; the device page shows its outbox lanes; a drift alert shows
 * on the fleet and drift pages with its chart; a rollout shows its stages and state; a
 * screenshot of each page is saved under a temp dir (paths printed). Skips, saying so, only
 * when Chromium is absent (CI installs it).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { api, enroll, waitFor } from '../helpers/hub.js';
import { classifierModel } from '../helpers/models.js';
import { push } from '../rollouts/fleet.js';
import { classesOf, hubWithAgent, inferRows, rows } from './fleet-ops.js';

const CHROMIUM = process.env.OUTPOST_CHROMIUM ?? '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

test('dashboard in Chromium: fleet, device, drift, rollouts and federated pages show the real state', async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`Chromium not found at ${CHROMIUM} (apt-get install chromium, or set OUTPOST_CHROMIUM)`);
    return;
  }
  const fleet = await hubWithAgent({ drift: { minRows: 100 }, rollouts: { tickMs: 100 } }, 'dash-agent-1');
  const { hub, agent, model } = fleet;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  const shots = mkdtempSync(join(tmpdir(), 'outpost-dashboard-'));
  t.after(async () => {
    await browser.close();
    await fleet.close();
  });
  await enroll(hub, { id: 'dash-never-online', name: 'spare' });

  // Traffic that drifts from the baseline, so the fleet has an alert to show.
  const reference = rows(300, 31);
  await api(hub, 'POST', '/v1/drift/baselines/clf/1.0.0/sample', {
    inputs: reference,
    classes: classesOf(model, reference),
  });
  let seed = 700;
  await waitFor(
    async () => {
      await inferRows(agent, rows(100, seed++, 3));
      const status = (await api(hub, 'GET', '/v1/drift/clf/1.0.0')).body;
      return status.drifting === true && status.features.length === 4;
    },
    'a drift alert',
    60_000,
  );
  await waitFor(
    async () => (await api(hub, 'GET', `/v1/devices/${agent.deviceId}/telemetry`)).status === 200,
    'telemetry',
  );
  // A rollout with stages (no device matches its selector, so it stays at its first stage).
  await push(hub, 'clf', '2.0.0', classifierModel(8).bytes);
  const rollout = await api(hub, 'POST', '/v1/rollouts', {
    model: 'clf',
    version: '2.0.0',
    selector: { tag: 'nowhere' },
    stages: [10, 50, 100],
    bakeMs: '10m',
    gates: ['requests>=10', 'error_rate<0.05'],
  });
  assert.equal(rollout.status, 201, JSON.stringify(rollout.body));

  // Without credentials: 401 with a Basic challenge, so a browser asks for them.
  const anonymous = await fetch(`${hub.http.url}/dashboard`);
  assert.equal(anonymous.status, 401);
  assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Basic realm=/);
  const wrong = await browser.newContext({
    httpCredentials: { username: 'admin', password: 'not-the-token-at-all' },
  });
  const denied = await (await wrong.newPage()).goto(`${hub.http.url}/dashboard`);
  assert.equal(denied?.status(), 401);
  await wrong.close();

  const context = await browser.newContext({
    httpCredentials: { username: 'admin', password: hub.adminToken },
    viewport: { width: 1280, height: 900 },
  });
  const page = await context.newPage();
  const shot = async (name: string) => {
    const path = join(shots, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    console.log(`dashboard screenshot: ${path}`);
  };

  await page.goto(`${hub.http.url}/dashboard`);
  const online = page.locator('#fleet tr', { hasText: 'dash-agent-1' });
  assert.equal(await online.locator('[data-state]').textContent(), 'online');
  const onlineText = (await online.textContent()) ?? '';
  assert.match(onlineText, /x86-64-cpu/);
  assert.match(onlineText, /clf@1\.0\.0 fp32 on onnx:cpu/);
  const spare = page.locator('#fleet tr', { hasText: 'dash-never-online' });
  assert.equal(await spare.locator('[data-state]').textContent(), 'offline');
  assert.equal((await page.locator('#devices-total b').textContent())?.trim(), '2');
  assert.equal((await page.locator('#devices-online b').textContent())?.trim(), '1');
  assert.equal((await page.locator('#drift-alerts b').textContent())?.trim(), '1');
  assert.match((await page.locator('#drift tr', { hasText: 'clf@1.0.0' }).textContent()) ?? '', /drifting/);
  await shot('fleet');

  await online.locator('a').first().click();
  await page.waitForURL(/\/dashboard\/devices\/dash-agent-1$/);
  assert.match((await page.locator('#device-facts').textContent()) ?? '', /online/);
  assert.match((await page.locator('#device-models').textContent()) ?? '', /onnx:cpu/);
  for (const lane of ['control', 'results', 'telemetry'])
    assert.equal(await page.locator('#device-outbox tr', { hasText: lane }).count(), 1, lane);
  assert.equal(await page.locator('svg[aria-label="Outbox depth (events)"] path').count(), 1);
  await shot('device');

  await page.goto(`${hub.http.url}/dashboard/drift`);
  assert.match((await page.locator('#drift-alerts-table').textContent()) ?? '', /clf@1\.0\.0.*open/s);
  const chart = page.locator('svg[aria-label="PSI and KS over time"]').first();
  assert.equal(await chart.locator('path').count(), 2, 'PSI and KS lines');
  assert.ok((await chart.locator('circle').count()) >= 2, 'points over time');
  await page.goto(`${hub.http.url}/dashboard/drift/clf/1.0.0`);
  assert.match((await page.locator('#drift-facts').textContent()) ?? '', /drifting/);
  assert.equal(await page.locator('svg[aria-label="PSI per input feature"] rect').count(), 4);
  await shot('drift');

  await page.goto(`${hub.http.url}/dashboard/rollouts`);
  const card = page.locator(`section[data-rollout="${rollout.body.id}"]`);
  assert.match((await card.locator('h2').textContent()) ?? '', /clf@2\.0\.0/);
  assert.deepEqual(await card.locator('ol.stages li').allTextContents(), ['10 %', '50 %', '100 %']);
  assert.equal(await card.locator('li.current').getAttribute('data-stage'), '0');
  assert.ok(
    ['running', 'paused', 'completed', 'rolled-back', 'aborted', 'failed'].includes(
      (await card.locator('h2 [data-state]').textContent()) ?? '',
    ),
  );
  await shot('rollouts');

  const scraped = await (await fetch(`${hub.http.url}/metrics`)).text();
  assert.match(scraped, /^outpost_hub_rollouts\{state="running"\} 1$/m);

  // A finished federated task with three rounds, stored as the round runner stores them.
  const at = Date.now();
  await hub.store.createFlTask(
    {
      id: 'fl-dash',
      spec: { model: 'digits' },
      status: 'done',
      round: 3,
      serverState: null,
      best: null,
      reason: null,
      createdAt: at,
      updatedAt: at,
    },
    new Uint8Array(8),
  );
  for (const [round, accuracy, loss] of [
    [1, 0.61, 1.2],
    [2, 0.74, 0.8],
    [3, 0.82, 0.55],
  ] as const) {
    await hub.store.openFlRound({
      taskId: 'fl-dash',
      round,
      status: 'open',
      selected: ['a', 'b'],
      openedAt: at,
      deadline: at + 1000,
      closedAt: null,
      metrics: {},
    });
    await hub.store.closeFlRound({
      taskId: 'fl-dash',
      round,
      status: 'closed',
      closedAt: at + round,
      metrics: { accepted: 2, trainAccuracy: accuracy - 0.05, hubEval: { accuracy, loss, count: 500 } },
      updates: [],
      task: {},
    });
  }
  await page.goto(`${hub.http.url}/dashboard/federated`);
  const task = page.locator('section[data-task="fl-dash"]');
  assert.match((await task.locator('h2').textContent()) ?? '', /done/);
  const accuracyChart = task.locator('svg[aria-label="Accuracy by round"]');
  assert.equal(await accuracyChart.locator('path').count(), 2, 'hubEval.accuracy and trainAccuracy');
  assert.equal(await accuracyChart.locator('circle').count(), 6, 'three rounds each');
  assert.equal(await task.locator('svg[aria-label="Loss by round"] circle').count(), 3);
  assert.match((await task.locator('table').textContent()) ?? '', /hubEval\.accuracy=0\.820/);
  await shot('federated');
  const missing = await page.goto(`${hub.http.url}/dashboard/devices/nobody`);
  assert.equal(missing?.status(), 404);
});
