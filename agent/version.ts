import { OUTPOST_VERSION } from '../shared/index.js';

/** Version of the agent, reported to the hub in the reported state. */
export const AGENT_VERSION = OUTPOST_VERSION;
