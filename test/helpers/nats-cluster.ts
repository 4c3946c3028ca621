/**
 * A NATS cluster of the test's own: `size` nats-server nodes on free 127.0.0.1 ports (clients,
 * routes, MQTT, monitoring), JetStream stores in a temp dir, an `auth.conf` holding the hub user
 * (the hub adds the devices itself), ready once every node's `/healthz` answers ok. Never the
 * machine's own node on 4222.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { hubPasswordHash } from '../../hub/broker/nats-auth.js';
import { writeNatsAuth } from '../../hub/broker/nats-config.js';
import { type NatsClusterProcess, startNatsCluster } from '../../hub/broker/nats-process.js';
import type { HubConfigInput } from '../../hub/index.js';
import { type TempDir, tempDir, waitFor } from './fixtures.js';

/** The nats-server binary the tests run. */
export const NATS_BIN = process.env.OUTPOST_TEST_NATS ?? '/usr/sbin/nats-server';

/** Undefined when nats-server can run here, else why not. */
export function natsSkip(): string | undefined {
  return existsSync(NATS_BIN) ? undefined : `no nats-server binary at ${NATS_BIN}`;
}

export const NATS_HUB_USER = 'outpost-hub';
export const NATS_HUB_PASSWORD = 'nats-test-hub-broker-password';

/** A running test cluster. */
export interface TestNatsCluster extends NatsClusterProcess {
  /** The `broker` section of a hub on this cluster (auth.conf kept current, nodes reloaded). */
  brokerConfig(mqttNodes?: readonly number[]): NonNullable<HubConfigInput['broker']>;
  /** Stops the nodes and removes the temp dir. */
  remove(): Promise<void>;
}

/** Starts a cluster of `size` (default 3) nodes. */
export async function startTestNatsCluster(size = 3): Promise<TestNatsCluster> {
  const dir: TempDir = await tempDir('outpost-nats-');
  await writeNatsAuth(dir.path, {
    hub: { username: NATS_HUB_USER, hash: await hubPasswordHash(NATS_HUB_PASSWORD) },
    devices: [],
  });
  let cluster: NatsClusterProcess;
  try {
    cluster = await startNatsCluster({ dir: dir.path, size, bin: NATS_BIN });
  } catch (err) {
    await dir.remove();
    throw err;
  }
  // Every node sets up MQTT before any users reload (see hub/broker/nats-mqtt-warmup.ts): the
  // hub warms only the nodes it lists, and the tests list fewer on purpose.
  try {
    for (const node of cluster.nodes) await mqttLogin(node.mqttUrl);
  } catch (err) {
    await cluster.close();
    await dir.remove();
    throw err;
  }
  return {
    ...cluster,
    brokerConfig: (mqttNodes) => ({
      url: cluster.natsUrls,
      username: NATS_HUB_USER,
      password: NATS_HUB_PASSWORD,
      authDir: cluster.dir,
      mqttUrls: (mqttNodes ?? cluster.nodes.map((_, i) => i)).map((i) => cluster.nodes[i]?.mqttUrl ?? ''),
      reload: cluster.nodes.map((n) => join(cluster.dir, `${n.name}.pid`)),
    }),
    remove: async () => {
      await cluster.close();
      await dir.remove();
    },
  };
}

/** Logs in to `url` over MQTT as the hub user, retrying until the node takes it. */
async function mqttLogin(url: string): Promise<void> {
  await waitFor(
    async () => {
      const client = await mqtt
        .connectAsync(
          url,
          {
            protocolVersion: 4,
            clientId: `${NATS_HUB_USER}-test-warmup`,
            username: NATS_HUB_USER,
            password: NATS_HUB_PASSWORD,
            reconnectPeriod: 0,
            connectTimeout: 10_000,
          },
          false,
        )
        .catch(() => undefined);
      if (client === undefined) return false;
      await client.endAsync();
      return true;
    },
    `an MQTT login on ${url}`,
    60_000,
  );
}
