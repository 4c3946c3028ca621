import { canonicalJson, type DesiredAgent, type DesiredModel } from '../../shared/index.js';
import type { DesiredBody } from '../store/registry-types.js';

/**
 * Pure section edits of a desired document. Each returns the new sections,
 * or `null` when nothing would change (the store then makes no new revision).
 */

/** Sections with `entry` set for its model name (entries kept sorted by name). */
export function setModelEntry(current: DesiredBody | undefined, entry: DesiredModel): DesiredBody | null {
  const base: DesiredBody = current ?? { config: {} };
  const models = (base.models ?? []).filter((m) => m.name !== entry.name);
  const previous = base.models?.find((m) => m.name === entry.name);
  if (previous !== undefined && canonicalJson(previous) === canonicalJson(entry)) return null;
  models.push(entry);
  models.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { ...base, models };
}

/** Sections without the entry of model `name`; `null` when there is none. */
export function withoutModel(current: DesiredBody | undefined, name: string): DesiredBody | null {
  if (current?.models?.some((m) => m.name === name) !== true) return null;
  const models = current.models.filter((m) => m.name !== name);
  const { models: _models, ...rest } = current;
  return models.length > 0 ? { ...rest, models } : rest;
}

/** Sections with the `agent` section set to `entry`; `null` when it is already that. */
export function setAgentEntry(current: DesiredBody | undefined, entry: DesiredAgent): DesiredBody | null {
  const base: DesiredBody = current ?? { config: {} };
  if (base.agent !== undefined && canonicalJson(base.agent) === canonicalJson(entry)) return null;
  return { ...base, agent: entry };
}

/** Sections without the `agent` section; `null` when there is none. */
export function withoutAgent(current: DesiredBody | undefined): DesiredBody | null {
  if (current?.agent === undefined) return null;
  const { agent: _agent, ...rest } = current;
  return rest;
}
