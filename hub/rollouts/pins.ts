import type { Logger } from 'pino';
import type { DesiredState } from '../../shared/index.js';
import type { DesiredService, ModelPin } from '../desired/desired-service.js';
import type { RolloutDevice, RolloutRecord } from '../store/rollout-types.js';
import type { DeviceRecord, HubStore } from '../store/types.js';
import type { ArmPin } from './strategies/index.js';

/** What rollouts need of the desired-state service (delivery). */
export type RolloutDesired = Pick<
  DesiredService,
  'getDesired' | 'setModelMany' | 'clearModelMany' | 'setAgentMany' | 'clearAgentMany'
>;

/**
 * The version of `model` a device runs or is told to run, before a rollout pins it: its
 * desired entry, else the active version it reports (delivery report, then inference report).
 */
export function currentVersion(
  model: string,
  desired: DesiredState | undefined,
  device: DeviceRecord | undefined,
): string | null {
  const entry = desired?.models?.find((m) => m.name === model);
  if (entry) return entry.version;
  const reported = device?.reported as
    | {
        models?: Array<{ name?: string; active?: { version?: string } }>;
        inference?: { models?: Array<{ name?: string; version?: string; engine?: string | null }> };
      }
    | null
    | undefined;
  const delivered = reported?.models?.find((m) => m.name === model)?.active?.version;
  if (delivered) return delivered;
  const running = reported?.inference?.models?.find((m) => m.name === model && m.engine);
  return running?.version ?? null;
}

/**
 * Applies pins, grouping devices with the same pin into one bulk change (one transaction each).
 * An agent rollout pins the desired `agent` section: a rollback (`allowDowngrade`) may pin a
 * release without bundles in the registry, which the devices hold in their other slot.
 */
export async function applyPins(
  desired: RolloutDesired,
  rollout: RolloutRecord,
  pins: ReadonlyArray<{ deviceId: string; pin: ArmPin; allowDowngrade?: boolean }>,
): Promise<void> {
  if (rollout.spec.target === 'agent') {
    const byPin = new Map<string, string[]>();
    for (const p of pins) {
      const key = `${p.pin.version}\n${p.allowDowngrade === true}`;
      byPin.set(key, [...(byPin.get(key) ?? []), p.deviceId]);
    }
    for (const [key, ids] of byPin) {
      const [version = '', downgrade] = key.split('\n');
      await desired.setAgentMany(ids, {
        version,
        rollout: rollout.id,
        ...(downgrade === 'true' ? { allowDowngrade: true, withoutBundles: true } : {}),
      });
    }
    return;
  }
  const groups = new Map<string, { ids: string[]; pin: ModelPin }>();
  for (const p of pins) {
    const pin: ModelPin = {
      name: rollout.spec.model,
      version: p.pin.version,
      rollout: rollout.id,
      ...(p.pin.shadow !== undefined ? { shadow: p.pin.shadow } : {}),
      ...(p.allowDowngrade ? { allowDowngrade: true } : {}),
    };
    const key = JSON.stringify(pin);
    const group = groups.get(key) ?? { ids: [], pin };
    group.ids.push(p.deviceId);
    groups.set(key, group);
  }
  for (const { ids, pin } of groups.values()) await desired.setModelMany(ids, pin);
}

/**
 * Rolls back devices: each goes back to the version its desired state named
 * before the rollout, with `allowDowngrade`; a device that had none gets the model's entry
 * removed. Marks them rolled back. Returns how many devices were restored.
 */
export async function restoreDevices(
  deps: { store: HubStore; desired: RolloutDesired; log: Logger; now: () => number },
  rollout: RolloutRecord,
  devices: readonly RolloutDevice[],
): Promise<number> {
  const todo = devices.filter((d) => d.rolledBackAt === null);
  if (todo.length === 0) return 0;
  const withPrevious = todo.filter((d) => d.previous !== null);
  const without = todo.filter((d) => d.previous === null).map((d) => d.deviceId);
  await applyPins(
    deps.desired,
    rollout,
    withPrevious.map((d) => ({
      deviceId: d.deviceId,
      pin: { version: d.previous as string },
      allowDowngrade: true,
    })),
  );
  if (without.length > 0) {
    if (rollout.spec.target === 'agent') await deps.desired.clearAgentMany(without);
    else await deps.desired.clearModelMany(without, rollout.spec.model);
  }
  const at = deps.now();
  await deps.store.putRolloutDevices(todo.map((d) => ({ ...d, rolledBackAt: at })));
  deps.log.info(
    { rollout: rollout.id, devices: todo.length },
    'rollout devices restored to their previous version',
  );
  return todo.length;
}
