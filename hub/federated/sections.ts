import type { FlTask } from '../../shared/messages/federated.js';
import type { DesiredBody } from '../store/registry-types.js';

/**
 * Pure edits of the `federated` section of a desired document, for the
 * desired-state service's `update`. Each returns `null` when nothing would change.
 */

/** Sections with `federated.task` set to `task`. */
export function withTask(current: DesiredBody | undefined, task: FlTask): DesiredBody {
  return { ...(current ?? { config: {} }), federated: { task } };
}

/** Sections without a federated task of `taskId`; `null` when the device has none. */
export function withoutTask(current: DesiredBody | undefined, taskId: string): DesiredBody | null {
  if (current?.federated?.task.id !== taskId) return null;
  const { federated: _federated, ...rest } = current;
  return rest;
}
