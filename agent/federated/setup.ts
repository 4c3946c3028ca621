import type Database from 'better-sqlite3';
import type { Logger } from 'pino';
import {
  chunk,
  clipL2,
  compressWithFeedback,
  decodeUpdate,
  encodeUpdate,
  evaluate,
  trainLocal,
} from '../../federated/index.js';
import type { SampleStore } from '../store/sample-store.js';
import type { AgentEvent } from '../types.js';
import { ResidualStore } from './residual-store.js';
import { RoundMemory } from './round-memory.js';
import { TaskRunner } from './task-runner.js';

/** Builds the agent's federated task runner over fl-core's trainer and codecs. */
export function createTaskRunner(options: {
  deviceId: string;
  /** The agent's data dir: error-feedback residuals live in its `fl-residuals/`. */
  dataDir: string;
  db: Database.Database;
  samples: SampleStore;
  enqueue(event: AgentEvent): unknown;
  log: Logger;
}): TaskRunner {
  const memory = new RoundMemory(options.db);
  return new TaskRunner({
    ...options,
    memory,
    residuals: new ResidualStore(options.dataDir, memory, { encode: encodeUpdate, decode: decodeUpdate }),
    lib: { trainLocal, evaluate, clipL2, encodeUpdate, decodeUpdate, chunk, compressWithFeedback },
  });
}
