import type { Logger } from 'pino';
import {
  type DesiredAgent,
  type DesiredModel,
  type DesiredState,
  type DeviceId,
  OutpostError,
  type RemoteConfig,
} from '../../shared/index.js';
import type { HubBus } from '../bus/types.js';
import { publishDesired } from '../protocol/downlink.js';
import type { DesiredBody, ModelVersionRecord } from '../store/registry-types.js';
import type { HubStore } from '../store/types.js';
import { setAgentEntry, setModelEntry, withoutAgent, withoutModel } from './sections.js';

/** What to pin for one model on a device. */
export interface ModelPin {
  name: string;
  version: string;
  /** A candidate version run beside the active one (shadow mode); must be registered. */
  shadow?: string | undefined;
  /** Allows the device to go back to an older version (set by a rollback). */
  allowDowngrade?: boolean | undefined;
  /** Id of the rollout that sets this pin. */
  rollout?: string | undefined;
}

/** What to pin as a device's agent release (over-the-air update). */
export interface AgentPin {
  version: string;
  /** Allows the device to go back to an older release (set by a rollback). */
  allowDowngrade?: boolean | undefined;
  /** Id of the rollout that sets this pin. */
  rollout?: string | undefined;
  /**
   * A release without bundles in the registry is pinned with none (a rollback to the
   * release the devices ran before: their other install slot holds it); default false:
   * `HUB_AGENT_BUNDLE_NOT_FOUND`.
   */
  withoutBundles?: boolean | undefined;
}

/**
 * A change to any section of one device's desired document: gets the current sections
 * (undefined before the first document), returns the new ones, or `null` for no change.
 */
export type SectionUpdate = (current: DesiredBody | undefined, deviceId: DeviceId) => DesiredBody | null;

/**
 * The hub's desired-state service: composes each device's document from its
 * sections (`config`, `models`, and later `federated`), bumps `rev` by exactly one per change
 * in one store transaction, then publishes the document retained (QoS 1). Every function
 * resolves after the store commit and the publication. This is the interface rollouts and
 * federated learning use; see docs/registry-and-delivery.md "Desired state with models".
 */
export interface DesiredService {
  /** The latest document of a device, or undefined before the first. */
  getDesired(deviceId: DeviceId): Promise<DesiredState | undefined>;
  /** Replaces the `config` section (what `PUT /v1/devices/:id/desired` does). */
  setConfig(deviceId: DeviceId, config: RemoteConfig): Promise<DesiredState>;
  /**
   * Pins `name@version` (and optionally a shadow version) on a device, with the version's
   * signed variant manifests from the registry. Throws `HUB_MODEL_NOT_FOUND` for an
   * unregistered version, `HUB_DEVICE_NOT_FOUND` for an unknown device. An identical pin
   * makes no new revision (the current document is returned).
   */
  setModel(deviceId: DeviceId, pin: ModelPin): Promise<DesiredState>;
  /** Bulk {@link setModel}: the same pin on many devices in ONE transaction (all or none). */
  setModelMany(deviceIds: readonly DeviceId[], pin: ModelPin): Promise<Map<DeviceId, DesiredState>>;
  /** Removes a model's entry; no new revision when the device had none. */
  clearModel(deviceId: DeviceId, name: string): Promise<DesiredState | undefined>;
  /** Bulk {@link clearModel} in one transaction. */
  clearModelMany(deviceIds: readonly DeviceId[], name: string): Promise<Map<DeviceId, DesiredState>>;
  /**
   * Any section change over many devices in one transaction (the building block of the
   * others; the fl-system work adds its `federated` section through it). Returns the new
   * documents of the devices that changed, after publishing them.
   */
  update(deviceIds: readonly DeviceId[], change: SectionUpdate): Promise<Map<DeviceId, DesiredState>>;
  /**
   * Pins an agent release on many devices in ONE transaction, with the release's signed
   * bundles (every platform: each device takes its own). Throws `HUB_AGENT_BUNDLE_NOT_FOUND`
   * for a release without bundles (unless `withoutBundles`).
   */
  setAgentMany(deviceIds: readonly DeviceId[], pin: AgentPin): Promise<Map<DeviceId, DesiredState>>;
  /** Removes the `agent` section (the devices keep the release they run). */
  clearAgentMany(deviceIds: readonly DeviceId[]): Promise<Map<DeviceId, DesiredState>>;
  /** Devices whose desired `models` (active or shadow) reference `name@version`. */
  devicesReferencing(name: string, version: string): Promise<DeviceId[]>;
}

/** What {@link createDesiredService} needs. */
export interface DesiredServiceDeps {
  store: HubStore;
  bus: HubBus;
  /** Hub wall clock, ms. */
  now: () => number;
  log: Logger;
}

async function requireVersion(store: HubStore, name: string, version: string): Promise<ModelVersionRecord> {
  const record = await store.getModelVersion(name, version);
  if (record === undefined || record.variants.length === 0) {
    throw new OutpostError('HUB_MODEL_NOT_FOUND', `model ${name}@${version} is not registered`);
  }
  return record;
}

/** Builds the {@link DesiredService} over a store and the broker bus. */
export function createDesiredService(deps: DesiredServiceDeps): DesiredService {
  const { store, bus, log } = deps;

  const publishAll = async (docs: Map<DeviceId, DesiredState>) => {
    for (const [deviceId, doc] of docs) {
      try {
        await publishDesired(bus, deviceId, doc);
      } catch (err) {
        // Stored: the next hub start republishes every document retained.
        log.warn({ err, deviceId, rev: doc.rev }, 'desired state stored but not published');
      }
    }
    return docs;
  };

  const update: DesiredService['update'] = async (deviceIds, change) => {
    const docs = await store.updateDesired(deviceIds, change, deps.now());
    if (docs.size > 0)
      log.info({ devices: docs.size, ids: [...docs.keys()].slice(0, 8) }, 'desired state updated');
    return publishAll(docs);
  };

  const one = async (deviceId: DeviceId, docs: Map<DeviceId, DesiredState>) =>
    docs.get(deviceId) ?? (await store.getDesired(deviceId));

  const entryOf = async (pin: ModelPin): Promise<DesiredModel> => {
    const record = await requireVersion(store, pin.name, pin.version);
    const entry: DesiredModel = {
      name: pin.name,
      version: pin.version,
      manifests: record.variants.map((v) => v.signed),
    };
    if (pin.allowDowngrade) entry.allowDowngrade = true;
    if (pin.rollout !== undefined) entry.rollout = pin.rollout;
    if (pin.shadow !== undefined) {
      const shadow = await requireVersion(store, pin.name, pin.shadow);
      entry.shadow = { version: pin.shadow, manifests: shadow.variants.map((v) => v.signed) };
    }
    return entry;
  };

  const setModelMany: DesiredService['setModelMany'] = async (deviceIds, pin) => {
    const entry = await entryOf(pin);
    return update(deviceIds, (current) => setModelEntry(current, entry));
  };
  const clearModelMany: DesiredService['clearModelMany'] = (deviceIds, name) =>
    update(deviceIds, (current) => withoutModel(current, name));

  const agentEntryOf = async (pin: AgentPin): Promise<DesiredAgent> => {
    const bundles = await store.listAgentBundles(pin.version);
    if (bundles.length === 0 && !pin.withoutBundles)
      throw new OutpostError(
        'HUB_AGENT_BUNDLE_NOT_FOUND',
        `agent ${pin.version} has no bundle in the registry`,
      );
    return {
      version: pin.version,
      bundles: bundles.map((b) => b.signed),
      ...(pin.allowDowngrade ? { allowDowngrade: true } : {}),
      ...(pin.rollout !== undefined ? { rollout: pin.rollout } : {}),
    };
  };

  return {
    getDesired: (deviceId) => store.getDesired(deviceId),
    setConfig: async (deviceId, config) => {
      const docs = await update([deviceId], (current) => ({ ...(current ?? {}), config }));
      return docs.get(deviceId) as DesiredState;
    },
    setModel: async (deviceId, pin) => {
      const docs = await setModelMany([deviceId], pin);
      return (await one(deviceId, docs)) as DesiredState;
    },
    setModelMany,
    clearModel: async (deviceId, name) => one(deviceId, await clearModelMany([deviceId], name)),
    clearModelMany,
    setAgentMany: async (deviceIds, pin) => {
      const entry = await agentEntryOf(pin);
      return update(deviceIds, (current) => setAgentEntry(current, entry));
    },
    clearAgentMany: (deviceIds) => update(deviceIds, (current) => withoutAgent(current)),
    update,
    devicesReferencing: async (name, version) => {
      const out: DeviceId[] = [];
      for (const { deviceId, desired } of await store.listDesired()) {
        const hit = (desired.models ?? []).some(
          (m) => m.name === name && (m.version === version || m.shadow?.version === version),
        );
        if (hit) out.push(deviceId);
      }
      return out;
    },
  };
}
