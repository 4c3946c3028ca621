/**
 * A Mosquitto of the test's own: `hub/broker/mosquitto-process.ts` on a free port
 * with the auth files the hub generates. The machine's broker on 1883 is never touched.
 * Also the hub replicas on one PostgreSQL behind it that the scale tests share.
 */
import { existsSync } from 'node:fs';
import { type MosquittoProcess, startMosquitto as start } from '../../hub/broker/mosquitto-process.js';
import { type Hub, type HubConfigInput, writeBrokerAuth } from '../../hub/index.js';
import {
  Cleanups,
  type Credentials,
  enroll,
  loginDevice,
  startHub,
  tempDir,
  waitFor,
} from '../helpers/hub.js';
import { postgresSpace } from '../store-contract/backends.js';

/** The Mosquitto binary the tests run. */
export const MOSQUITTO_BIN = process.env.OUTPOST_TEST_MOSQUITTO ?? '/usr/sbin/mosquitto';

/** Undefined when Mosquitto can run here, else why not. */
export function mosquittoSkip(): string | undefined {
  return existsSync(MOSQUITTO_BIN) ? undefined : `no Mosquitto binary at ${MOSQUITTO_BIN}`;
}

export type TestMosquitto = MosquittoProcess;

/** Starts the test's Mosquitto on `dir/passwd` and `dir/acl`. */
export function startMosquitto(dir: string): Promise<TestMosquitto> {
  return start(dir, MOSQUITTO_BIN);
}

/** The broker user the replicas of {@link startReplicasOnMosquitto} connect as. */
export const HUB_USER = 'outpost-hub';

/** Hub replicas on one PostgreSQL schema behind the test's own Mosquitto, and enrolled devices. */
export interface ReplicasOnMosquitto {
  mosquitto: TestMosquitto;
  /** The replicas started so far, {@link startReplica}'s included. */
  hubs: Hub[];
  /** The enrolled devices, enrolled in turn on each replica. */
  devices: Credentials[];
  /** Starts one more replica on the same store and broker and adds it to `hubs`. */
  startReplica(): Promise<Hub>;
  /** Closes the replicas, stops the broker, drops the schema and deletes every dir. */
  close(): Promise<void>;
}

/**
 * Starts `replicas` hubs (config `hub` on top of the shared store and broker) on a fresh
 * PostgreSQL schema behind a Mosquitto on the auth files the hub writes (`authDirPrefix` names
 * their dir), enrolls `devices` devices `${deviceIdPrefix}${i}` alternately on each replica, and
 * resolves once the broker, reloaded, accepts the first of them. What started is closed again
 * when a later step fails.
 */
export async function startReplicasOnMosquitto(options: {
  hubPassword: string;
  authDirPrefix: string;
  deviceIdPrefix: string;
  devices: number;
  replicas?: number;
  hub?: Partial<HubConfigInput>;
}): Promise<ReplicasOnMosquitto> {
  const cleanups = new Cleanups();
  const hubs: Hub[] = [];
  const devices: Credentials[] = [];
  try {
    const space = await postgresSpace();
    cleanups.add(() => space.dispose());
    const authDir = tempDir(options.authDirPrefix);
    cleanups.add(() => authDir.remove());
    // The broker needs the hub's user before any hub can connect: write the files first.
    const store = await space.open();
    await writeBrokerAuth(store, {
      dir: authDir.path,
      hub: { username: HUB_USER, password: options.hubPassword },
    });
    await store.close();
    const mosquitto = await startMosquitto(authDir.path);
    cleanups.add(() => mosquitto.stop());
    const startReplica = async () => {
      const dir = tempDir();
      cleanups.add(() => dir.remove());
      const hub = await startHub(dir.path, {
        adminToken: 'admin-token-shared-by-replicas',
        store: { url: space.url, schema: space.schema },
        broker: {
          url: mosquitto.hubUrl,
          username: HUB_USER,
          password: options.hubPassword,
          authDir: authDir.path,
        },
        ...options.hub,
      });
      cleanups.add(() => hub.close().catch(() => undefined));
      hubs.push(hub);
      return hub;
    };
    for (let i = 0; i < (options.replicas ?? 2); i++) await startReplica();
    for (let i = 0; i < options.devices; i++) {
      devices.push(await enroll(hubs[i % hubs.length] as Hub, { id: `${options.deviceIdPrefix}${i}` }));
    }
    // Enrollment rewrote the password file; Mosquitto rereads it on SIGHUP.
    mosquitto.reload();
    const first = devices[0] as Credentials;
    await waitFor(async () => {
      const client = await loginDevice(mosquitto.url, first);
      await client.endAsync(true);
      return true;
    }, 'the broker to accept an enrolled device');
    return { mosquitto, hubs, devices, startReplica, close: () => cleanups.run() };
  } catch (err) {
    await cleanups.run().catch(() => undefined);
    throw err;
  }
}
