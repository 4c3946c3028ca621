/**
 * A Mosquitto of the test's own: `hub/broker/mosquitto-process.ts` on a free port
 * with the auth files the hub generates. The machine's broker on 1883 is never touched.
 */
import { existsSync } from 'node:fs';
import { type MosquittoProcess, startMosquitto as start } from '../../hub/broker/mosquitto-process.js';

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
