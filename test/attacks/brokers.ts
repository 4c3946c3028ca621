/**
 * The broker options every MQTT attack runs against. Each option starts a real hub wired to
 * its broker and says how devices reach it; adding a broker means adding one entry here.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { writeMosquittoFiles } from '../../hub/broker/mosquitto-config.js';
import { mosquittoHash } from '../../hub/broker/mosquitto-passwd.js';
import type { Hub, HubConfigInput } from '../../hub/index.js';
import { type Credentials, enroll, startHub, tempDir, waitFor } from '../helpers/hub.js';
import { natsSkip, startTestNatsCluster, type TestNatsCluster } from '../helpers/nats-cluster.js';
import { mosquittoSkip, startMosquitto, type TestMosquitto } from '../scale/mosquitto.js';

/** A running hub on one broker option. */
export interface BrokerTarget {
  readonly option: string;
  readonly hub: Hub;
  /** Where devices connect over MQTT/TCP. */
  readonly deviceUrl: string;
  /** Enrolls a device and waits until the broker accepts its credentials. */
  enroll(id?: string): Promise<Credentials>;
  close(): Promise<void>;
}

/** One broker option: `skip` says why it cannot run here. */
export interface BrokerOption {
  readonly name: string;
  readonly skip?: string;
  start(hubConfig?: Partial<HubConfigInput>): Promise<BrokerTarget>;
}

const HUB_USER = 'outpost-hub';
const HUB_PASSWORD = 'attack-suite-hub-broker-password';

/**
 * Connects with mqtt.js, MQTT 3.1.1, no reconnect. `allowRetries` false: a connection the
 * broker closes without a CONNACK rejects instead of never settling.
 */
export function connect(url: string, options: IClientOptions, allowRetries = true): Promise<MqttClient> {
  return mqtt.connectAsync(
    url,
    {
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      ...options,
    },
    allowRetries,
  );
}

/** Connects as a device with its own credentials (client id = id unless `clientId`). */
export function connectAs(
  url: string,
  creds: Credentials,
  options: IClientOptions = {},
): Promise<MqttClient> {
  return connect(url, { clientId: creds.id, username: creds.id, password: creds.secret, ...options });
}

const embedded: BrokerOption = {
  name: 'embedded',
  async start(hubConfig = {}) {
    const dir = await tempDir('outpost-attack-');
    const hub = await startHub(dir.path, hubConfig);
    return {
      option: 'embedded',
      hub,
      deviceUrl: hub.mqtt.url,
      enroll: (id) => enroll(hub, id === undefined ? {} : { id }),
      close: async () => {
        await hub.close();
        await dir.remove();
      },
    };
  },
};

const mosquitto: BrokerOption = {
  name: 'mosquitto',
  skip: mosquittoSkip(),
  async start(hubConfig = {}) {
    const dir = await tempDir('outpost-attack-');
    const authDir = await tempDir('outpost-attack-broker-');
    // The broker needs the hub's user before the hub can connect.
    const hash = await mosquittoHash(HUB_PASSWORD);
    await writeMosquittoFiles(authDir.path, { hub: { username: HUB_USER, hash }, devices: [] });
    let broker: TestMosquitto | undefined;
    let hub: Hub | undefined;
    try {
      broker = await startMosquitto(authDir.path);
      const url = broker.hubUrl;
      hub = await startHub(dir.path, {
        ...hubConfig,
        broker: { url, username: HUB_USER, password: HUB_PASSWORD, authDir: authDir.path },
      });
    } catch (err) {
      await broker?.stop();
      throw err;
    }
    const started = { hub, broker };
    return {
      option: 'mosquitto',
      hub: started.hub,
      deviceUrl: started.broker.url,
      async enroll(id) {
        const creds = await enroll(started.hub, id === undefined ? {} : { id });
        // Enrollment rewrote the password file; Mosquitto rereads it on SIGHUP.
        started.broker.reload();
        await waitFor(async () => {
          try {
            await (await connectAs(started.broker.url, creds)).endAsync(true);
            return true;
          } catch {
            return false;
          }
        }, `mosquitto accepts ${creds.id}`);
        return creds;
      },
      close: async () => {
        await started.hub.close();
        await started.broker.stop();
        await dir.remove();
        await authDir.remove();
      },
    };
  },
};

/**
 * A three-node NATS cluster (nats-server 2.9+, MQTT on every node): devices connect to node 3,
 * the hub publishes through node 1 and reads the uplink over NATS. Attacks run against node 3's
 * MQTT listener; what a device may do there is what `auth.conf` lets its user do.
 */
const natsCluster: BrokerOption = {
  name: 'nats-cluster',
  skip: natsSkip(),
  async start(hubConfig = {}) {
    const dir = await tempDir('outpost-attack-');
    let cluster: TestNatsCluster | undefined;
    let hub: Hub | undefined;
    try {
      cluster = await startTestNatsCluster(3);
      hub = await startHub(dir.path, { ...hubConfig, broker: cluster.brokerConfig([0]) });
    } catch (err) {
      await cluster?.remove();
      throw err;
    }
    const started = { hub, cluster };
    const deviceUrl = cluster.nodes[2]?.mqttUrl as string;
    return {
      option: 'nats-cluster',
      hub: started.hub,
      deviceUrl,
      async enroll(id) {
        // Enrollment rewrote auth.conf and signalled every node to reload it.
        const creds = await enroll(started.hub, id === undefined ? {} : { id });
        await waitFor(async () => {
          try {
            await (
              await connect(
                deviceUrl,
                { clientId: creds.id, username: creds.id, password: creds.secret },
                false,
              )
            ).endAsync(true);
            return true;
          } catch {
            return false;
          }
        }, `the NATS cluster accepts ${creds.id}`);
        return creds;
      },
      close: async () => {
        await started.hub.close();
        await started.cluster.remove();
        await dir.remove();
      },
    };
  },
};

/** Every broker option, in the order the suite runs them. */
export const BROKER_OPTIONS: readonly BrokerOption[] = [embedded, mosquitto, natsCluster];
