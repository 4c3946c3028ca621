/** Version of the agent, reported to the hub in the reported state (keep in step with package.json). */
export const AGENT_VERSION = '0.1.0';
