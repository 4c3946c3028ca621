import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROTOCOL } from '../../shared/index.js';
import { tempDir } from '../helpers/agent.js';
import { type BuiltRelease, buildPreviousRelease, REPO_ROOT } from './previous-release.js';
import { type AgentProcess, type HubProcess, startAgentProcess, startHubProcess } from './processes.js';
import { agentConfigFor, hubApi, runScenario } from './scenario.js';

// The previous release (built from git into a temp dir) against this tree, both ways, as
// real processes: an old agent with a new hub, a new agent with an old hub.

/** This tree's CLI, built by `npm run build` before the suite. */
const CURRENT_CLI = join(REPO_ROOT, 'dist', 'cli', 'main.js');

describe('compatibility with the previous release', () => {
  let previous: BuiltRelease;
  const cleanups: Array<() => unknown> = [];

  before(async () => {
    assert.ok(existsSync(CURRENT_CLI), `${CURRENT_CLI} is missing: run npm run build first`);
    previous = await buildPreviousRelease();
  });

  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  async function pair(hubCli: string, agentCli: string, name: string) {
    const dir = tempDir(`outpost-compat-${name}-`);
    cleanups.push(() => dir.remove());
    const hub: HubProcess = await startHubProcess(hubCli, join(dir.path, 'hub'), dir.path, `${name}-hub`);
    cleanups.push(() => hub.stop());
    const config = await agentConfigFor(hub, join(dir.path, 'agent'));
    const agent: AgentProcess = await startAgentProcess(agentCli, config, dir.path, `${name}-agent`);
    cleanups.push(() => agent.stop());
    return { hub, agent, deviceId: config.deviceId as string, dir };
  }

  it('an agent of the previous release works with this hub', async () => {
    const { hub, agent, deviceId } = await pair(CURRENT_CLI, previous.cli, 'old-agent');
    await runScenario(hub, agent, deviceId);
    const api = hubApi(hub);
    // The old agent never names a minor: this hub answered it without `pv` and refused nothing.
    const reported = (await api('GET', `/v1/devices/${deviceId}`)).reported;
    assert.equal(reported.pv, undefined);
    const stats = await api('GET', '/v1/stats');
    assert.deepEqual(
      Object.keys(stats.rejected.byReason).filter((r) => /invalid|unserved/.test(r)),
      [],
      JSON.stringify(stats.rejected),
    );
  });

  it('an agent of this tree works with a hub of the previous release', async () => {
    const { hub, agent, deviceId } = await pair(previous.cli, CURRENT_CLI, 'old-hub');
    await runScenario(hub, agent, deviceId);
    const api = hubApi(hub);
    // The old hub kept the reported state whole (it reads it loosely), `pv` included...
    assert.equal((await api('GET', `/v1/devices/${deviceId}`)).reported.pv, PROTOCOL);
    // ...rejected nothing, and never said a minor, so the agent never stamped one on a batch.
    const stats = await api('GET', '/v1/stats');
    assert.deepEqual(Object.keys(stats.rejected.byReason), [], JSON.stringify(stats.rejected));
    // biome-ignore lint/suspicious/noExplicitAny: the agent status as JSON
    const status: any = await (await fetch(`${agent.api}/v1/status`)).json();
    assert.equal(status.inbound.protocol.hub, null);
    assert.equal(status.inbound.invalid.total, 0, JSON.stringify(status.inbound.invalid));
  });
});
