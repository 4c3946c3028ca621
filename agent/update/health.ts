import type { Lane } from '../../shared/index.js';
import type { LaneCounters } from '../store/index.js';
import type { Agent, AgentStatus } from '../types.js';
import { HEALTHY_MESSAGE } from './launcher.js';

/** Whether an agent is healthy enough to keep a new release, and what it still waits for. */
export interface HealthVerdict {
  healthy: boolean;
  /** What is not there yet: `link`, `engine <model>`, `outbox <lane>`. */
  waiting: string[];
}

/**
 * An agent started from a slot on trial is healthy when its store is open and migrated (it
 * runs at all), its link is up, every model it runs has an admitted engine, and every lane
 * that had events waiting at its start has had one acknowledged since (the outbox drains).
 */
export function healthOf(status: AgentStatus, atStart: Partial<Record<Lane, LaneCounters>>): HealthVerdict {
  const waiting: string[] = [];
  if (!status.link.connected) waiting.push('link');
  for (const model of status.inference.models)
    if (model.engine === null) waiting.push(`engine ${model.name}`);
  for (const [lane, now] of Object.entries(status.outbox) as Array<[Lane, LaneCounters]>) {
    const before = atStart[lane];
    if (now.pending > 0 && before !== undefined && now.acked <= before.acked) waiting.push(`outbox ${lane}`);
  }
  return { healthy: waiting.length === 0, waiting };
}

/**
 * Polls the agent until {@link healthOf} says healthy, then sends {@link HEALTHY_MESSAGE}
 * once through `send` (the launcher's IPC channel). Returns a function that stops polling.
 */
export function confirmHealthWhenReady(
  agent: Pick<Agent, 'status'>,
  send: (message: { type: string; waited: number }) => void,
  intervalMs = 250,
): () => void {
  const atStart = agent.status().outbox;
  const startedAt = Date.now();
  const timer = setInterval(() => {
    if (!healthOf(agent.status(), atStart).healthy) return;
    clearInterval(timer);
    send({ type: HEALTHY_MESSAGE, waited: Date.now() - startedAt });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
