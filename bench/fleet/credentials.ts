import { randomBytes, scrypt } from 'node:crypto';
import { brokerHashes } from '../../hub/broker/broker-hashes.js';
import type { HubStore } from '../../hub/index.js';

/**
 * scrypt cost of the benchmark's device hashes. Production enrollment uses N = 16384
 * (`hub/secrets.ts`), about 50 ms of one core per hash and per embedded-broker CONNECT; 5000
 * devices would spend minutes in scrypt before any MQTT is measured. The bench stores hashes
 * with N = 1024 instead (same format, the parameters live in the hash) and reports the
 * production cost of a CONNECT separately, so the connect-storm row can be scaled honestly.
 */
export const BENCH_SCRYPT_N = 1024;

/** One simulated device's credentials and stored hashes. */
export interface FleetDevice {
  id: string;
  secret: string;
  scryptHash: string;
  brokerHash: string;
}

function scryptHash(secret: string, n: number): Promise<string> {
  const salt = randomBytes(16);
  return new Promise((resolve, reject) =>
    scrypt(secret, salt, 32, { N: n, r: 8, p: 1, maxmem: 256 * n * 8 + 1024 * 1024 }, (err, key) =>
      err
        ? reject(err)
        : resolve(['scrypt', n, 8, 1, salt.toString('base64url'), key.toString('base64url')].join('$')),
    ),
  );
}

/** Credentials for `count` devices `fleet-00000…` (hashes computed once, reused by every run). */
export async function makeFleet(count: number, n = BENCH_SCRYPT_N): Promise<FleetDevice[]> {
  const out: FleetDevice[] = [];
  for (let i = 0; i < count; i++) {
    const id = `fleet-${String(i).padStart(5, '0')}`;
    const secret = randomBytes(32).toString('base64url');
    out.push({
      id,
      secret,
      scryptHash: await scryptHash(secret, n),
      // Mosquitto's $7$ and NATS's bcrypt hash, as enrollment stores them.
      brokerHash: await brokerHashes(secret),
    });
  }
  return out;
}

/** Bulk enrollment straight into a store, as `POST /v1/devices` would leave it, plus a desired state. */
export async function enrollFleet(store: HubStore, fleet: readonly FleetDevice[]): Promise<void> {
  for (const d of fleet) {
    await store.createDevice({ id: d.id, secretHash: d.scryptHash, createdAt: Date.now() });
    await store.putBrokerHash(d.id, d.brokerHash);
    await store.putDesired(d.id, { reportIntervalS: 60 }, Date.now());
  }
}
