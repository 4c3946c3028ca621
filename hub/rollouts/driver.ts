import type { Logger } from 'pino';
import { cohortPosition, matchesSelector, rolloutSubject } from '../../shared/index.js';
import type { RolloutDevice, RolloutEvent, RolloutRecord } from '../store/rollout-types.js';
import type { DeviceRecord, HubStore } from '../store/types.js';
import {
  agentCannotTakePart,
  currentAgentVersion,
  judgeAgentRollout,
  refusedAgent,
  revertedBy,
  runsConfirmed,
} from './agent-target.js';
import { candidateDrift, type DriftLookup, judgeRollout } from './evaluate.js';
import { applyPins, currentVersion, type RolloutDesired, restoreDevices } from './pins.js';
import { ROLLOUT_STRATEGIES } from './strategies/index.js';

/** What the driver needs. */
export interface RolloutDriverDeps {
  store: HubStore;
  desired: RolloutDesired;
  log: Logger;
  /** Hub wall clock, ms. */
  now: () => number;
  /** Period of the loop, ms (config `rollouts.tickMs`, default 1000). */
  tickMs: number;
  /**
   * Whether this hub drives rollouts now. One call per tick, so that hub replicas can wrap
   * it in a lease; default: always.
   */
  shouldDrive?: () => Promise<boolean>;
  /** Drift per model version for drift gates. */
  drift?: DriftLookup;
}

/** The running driver loop. */
export interface RolloutDriver {
  /** One pass now (folds new metrics, then steps every running rollout); passes never overlap. */
  tick(): Promise<void>;
  close(): Promise<void>;
}

type NewEvent = Omit<RolloutEvent, 'rolloutId' | 'seq'>;

/** The firmware profile a device reports, for `profile=` selectors. */
function profileOf(device: DeviceRecord): string | undefined {
  const r = device.reported as { inference?: { profile?: { name?: string } } } | null;
  return r?.inference?.profile?.name;
}

/** Selected devices ranked by their stable cohort position in this rollout. */
export function rankDevices(rollout: RolloutRecord, devices: readonly DeviceRecord[]): string[] {
  return devices
    .filter((d) =>
      matchesSelector(rollout.spec.selector, { id: d.id, labels: d.labels, profile: profileOf(d) }),
    )
    .map((d) => ({ id: d.id, p: cohortPosition(rollout.id, d.id) }))
    .sort((a, b) => a.p - b.p || (a.id < b.id ? -1 : 1))
    .map((d) => d.id);
}

/** Why a device that never reported may be stuck: the refusal it reports for the model, if any. */
function refusalOf(device: DeviceRecord | undefined, model: string): string | undefined {
  const r = device?.reported as {
    models?: Array<{ name?: string; refused?: { code?: string; reason?: string } }>;
  };
  const refused = r?.models?.find((m) => m.name === model)?.refused;
  return refused ? `${refused.code}: ${refused.reason}` : undefined;
}

/**
 * One step of one running rollout: assign the stage's new devices, exclude
 * those past their deadline, judge the gates (a failure rolls every assigned device back),
 * and advance after the bake time when the gates pass and every stage device has reported
 * or been excluded.
 */
/** Timeline entries of this tick, ready for the store. */
function withRollout(rollout: RolloutRecord, events: NewEvent[]) {
  return events.map((e) => ({ ...e, rolloutId: rollout.id }));
}

export async function stepRollout(deps: RolloutDriverDeps, rollout: RolloutRecord): Promise<void> {
  const { store, now } = deps;
  const spec = rollout.spec;
  const agent = spec.target === 'agent';
  const strategy = ROLLOUT_STRATEGIES[spec.mode];
  // This tick's timeline entries not yet in the store; `saved` are those already written with
  // the device rows they explain.
  const events: NewEvent[] = [];
  const saved: NewEvent[] = [];
  const flush = () => {
    const out = events.splice(0);
    saved.push(...out);
    return withRollout(rollout, out);
  };
  const at = now();
  const fleet = await store.listDevices();
  const byId = new Map(fleet.map((d) => [d.id, d]));
  let devices = await store.listRolloutDevices(rollout.id);
  const known = new Set(devices.map((d) => d.deviceId));

  // 1. Assign the devices the current stage adds. An excluded device (past its deadline, or
  // unable to take part) no longer counts toward the stage's share: the next device in cohort
  // order takes its place, so silent devices never leave a stage without reporters.
  const excluded = new Set(
    devices.filter((d) => d.excludedAt !== null && d.reportedAt === null).map((d) => d.deviceId),
  );
  const ranked = rankDevices(rollout, fleet).filter((id) => !excluded.has(id));
  const fresh = strategy.targets(spec, rollout.stage, ranked).filter((t) => !known.has(t.deviceId));
  if (fresh.length > 0) {
    const assigned: RolloutDevice[] = [];
    const pins: Array<{ deviceId: string; pin: { version: string; shadow?: string } }> = [];
    for (const t of fresh) {
      const desiredDoc = await store.getDesired(t.deviceId);
      const device = byId.get(t.deviceId);
      const previous = agent
        ? currentAgentVersion(desiredDoc, device)
        : currentVersion(spec.model, desiredDoc, device);
      const pin = (agent ? agentCannotTakePart(device) : undefined) ?? strategy.pin(spec, t.arm, previous);
      const reports = strategy.reports(spec, t.arm);
      const row: RolloutDevice = {
        rolloutId: rollout.id,
        deviceId: t.deviceId,
        arm: t.arm,
        ...reports,
        stage: rollout.stage,
        assignedAt: at,
        previous,
        reportedAt: null,
        excludedAt: null,
        rolledBackAt: null,
      };
      if (typeof pin === 'string') {
        assigned.push({ ...row, excludedAt: at, rolledBackAt: at });
        events.push({
          at,
          kind: 'excluded',
          stage: rollout.stage,
          message: `${t.deviceId}: ${pin}`,
          detail: { device: t.deviceId, reason: pin },
        });
        continue;
      }
      assigned.push(row);
      pins.push({ deviceId: t.deviceId, pin });
    }
    const arms = pins.map(
      (p) => `${p.deviceId}→${p.pin.version}${p.pin.shadow ? ` (shadow ${p.pin.shadow})` : ''}`,
    );
    if (pins.length > 0) {
      events.push({
        at,
        kind: 'assigned',
        stage: rollout.stage,
        message: `stage ${rollout.stage + 1}: ${pins.length} device(s) pinned: ${arms.slice(0, 8).join(', ')}${arms.length > 8 ? ', …' : ''}`,
        detail: { devices: pins.map((p) => ({ id: p.deviceId, ...p.pin })) },
      });
    }
    // Recorded, with the timeline entries, before pinned: a crash in between leaves a recorded
    // device that never reports (excluded at its deadline, replaced), never a pinned one whose
    // previous version is lost, nor an assignment the timeline does not show.
    await store.putRolloutDevices(assigned, flush());
    await applyPins(deps.desired, rollout, pins);
    devices = await store.listRolloutDevices(rollout.id);
  }

  // 1b. An agent release: a device reports once it runs the release confirmed healthy; one
  // whose launcher reverted it, or that refuses it, takes no further part.
  if (agent) {
    const changed: RolloutDevice[] = [];
    for (const d of devices) {
      if (d.rolledBackAt !== null || d.reportedAt !== null) continue;
      const device = byId.get(d.deviceId);
      if (runsConfirmed(device, spec.version)) {
        changed.push({ ...d, reportedAt: at });
        const back = (device?.reported as { update?: { switched?: { backOnlineMs?: number | null } } })
          ?.update?.switched?.backOnlineMs;
        events.push({
          at,
          kind: 'updated',
          stage: rollout.stage,
          message: `${d.deviceId} runs ${spec.version}, confirmed healthy${typeof back === 'number' ? ` (back online ${(back / 1000).toFixed(1)} s after the switch)` : ''}`,
          detail: { device: d.deviceId, backOnlineMs: back ?? null },
        });
        continue;
      }
      if (d.excludedAt !== null) continue;
      const reverted = revertedBy(device, spec.version, rollout.id);
      const refused = reverted === undefined ? refusedAgent(device, spec.version) : undefined;
      const why = reverted ?? refused;
      if (why === undefined) continue;
      changed.push({ ...d, excludedAt: at });
      events.push({
        at,
        kind: reverted !== undefined ? 'reverted' : 'excluded',
        stage: rollout.stage,
        message: `${d.deviceId}: ${reverted !== undefined ? `its launcher reverted ${spec.version}: ` : ''}${why}`,
        detail: { device: d.deviceId, reason: why, reverted: reverted !== undefined },
      });
    }
    if (changed.length > 0) {
      await store.putRolloutDevices(changed, flush());
      devices = await store.listRolloutDevices(rollout.id);
    }
  }

  // 2. Per-device deadlines: a device that never reports never holds the rollout.
  const late = devices.filter(
    (d) => d.reportedAt === null && d.excludedAt === null && at - d.assignedAt >= spec.deviceDeadlineMs,
  );
  if (late.length > 0) {
    for (const d of late) {
      const why = agent
        ? (refusedAgent(byId.get(d.deviceId), spec.version) ??
          `not running agent ${d.version} within ${spec.deviceDeadlineMs} ms`)
        : (refusalOf(byId.get(d.deviceId), spec.model) ??
          `no metrics of ${d.version} within ${spec.deviceDeadlineMs} ms`);
      events.push({
        at,
        kind: 'excluded',
        stage: rollout.stage,
        message: `${d.deviceId}: ${why}`,
        detail: { device: d.deviceId, reason: why },
      });
    }
    await store.putRolloutDevices(
      late.map((d) => ({ ...d, excludedAt: at })),
      flush(),
    );
    devices = await store.listRolloutDevices(rollout.id);
  }

  // 2b. Every device the rollout reached was excluded (it refused the version or never
  // reported) and no other device can take a place: nothing can ever pass, so the rollout ends
  // `aborted` naming why, instead of waiting for ever or counting as a success.
  if (await abortWhenNobodyTakesPart(deps, rollout, devices, fleet, events, [...saved, ...events])) return;

  // 3. Gates over the candidate arm.
  const verdict = agent
    ? judgeAgentRollout(spec, rollout.id, devices, byId)
    : judgeRollout(
        spec,
        strategy,
        devices,
        await store.modelCounters({ rolloutId: rollout.id }),
        await candidateDrift(spec, strategy, deps.drift),
      );
  if (verdict.verdict === 'fail' && verdict.failed) {
    const f = verdict.failed;
    const reverted = agent
      ? devices
          .map((d) => [d.deviceId, revertedBy(byId.get(d.deviceId), spec.version, rollout.id)] as const)
          .filter(([, why]) => why !== undefined)
          .map(([id, why]) => `${id}: ${why}`)
      : [];
    const context = agent
      ? reverted.length > 0
        ? reverted.slice(0, 3).join('; ')
        : `${verdict.reporting} device(s) updated`
      : `${verdict.reporting} device(s) reporting`;
    const reason = `gate ${f.gate} failed: ${f.metric} = ${f.value === null ? 'beyond the last latency bucket' : Number(f.value.toPrecision(4))} at stage ${rollout.stage + 1} (${context})`;
    await store.appendRolloutEvents(withRollout(rollout, events));
    const restored = await restoreDevices(deps, rollout, devices);
    await store.updateRollout(
      rollout.id,
      { state: 'rolled-back', reason },
      {
        at: now(),
        kind: 'rolled-back',
        stage: rollout.stage,
        message: `${reason}; ${restored} device(s) rolled back`,
        detail: { failed: f, results: verdict.results, restored },
      },
      now(),
      ['running'],
    );
    deps.log.warn(
      { rollout: rollout.id, gate: f.gate, value: f.value, restored },
      'rollout rolled back by a failing gate',
    );
    return;
  }

  // 4. Advance after the bake time.
  // A device that reported after its deadline takes part again (its metrics always count).
  const open = devices.filter(
    (d) => d.rolledBackAt === null && (d.excludedAt === null || d.reportedAt !== null),
  );
  const settled = open.every((d) => d.reportedAt !== null) && open.length > 0;
  const baked = at - rollout.stageStartedAt >= spec.bakeMs;
  await store.appendRolloutEvents(withRollout(rollout, events));
  if (!(baked && settled && verdict.verdict === 'pass')) return;
  const gates = verdict.results.map((r) => `${r.gate} (${r.value})`).join(', ') || 'no gates';
  const last = rollout.stage >= spec.stages.length - 1;
  if (!last) {
    await store.updateRollout(
      rollout.id,
      { stage: rollout.stage + 1, stageStartedAt: at },
      {
        at,
        kind: 'stage',
        stage: rollout.stage + 1,
        message: `stage ${rollout.stage + 1} passed (${gates}); stage ${rollout.stage + 2} at ${spec.stages[rollout.stage + 1]}%`,
        detail: { results: verdict.results },
      },
      at,
      ['running'],
    );
    return;
  }
  if (strategy.finish === 'hold') {
    if (rollout.reason === null) {
      await store.updateRollout(
        rollout.id,
        { reason: `gates passed after bake (${gates}); both arms keep running until ended` },
        {
          at,
          kind: 'gates-passed',
          stage: rollout.stage,
          message: `gates passed (${gates}); A/B keeps running`,
          detail: { results: verdict.results },
        },
        at,
        ['running'],
      );
    }
    return;
  }
  if (strategy.finish === 'promote' && strategy.promoted) {
    const pin = strategy.promoted(spec);
    await applyPins(
      deps.desired,
      rollout,
      open.map((d) => ({ deviceId: d.deviceId, pin })),
    );
  }
  await store.updateRollout(
    rollout.id,
    { state: 'completed', reason: `all ${spec.stages.length} stages passed` },
    {
      at,
      kind: 'completed',
      stage: rollout.stage,
      message: `${strategy.finish === 'promote' ? `promoted ${spec.version} on ${open.length} device(s); ` : ''}completed: ${agent ? rolloutSubject(spec) : spec.version} on ${open.length} device(s) (${gates})`,
      detail: { results: verdict.results },
    },
    at,
    ['running'],
  );
}

/** Starts the loop: every `tickMs`, fold new metrics, then step each running rollout. */
export function startRolloutDriver(deps: RolloutDriverDeps): RolloutDriver {
  let running: Promise<void> | undefined;
  let closed = false;

  async function pass(): Promise<void> {
    if (deps.shouldDrive && !(await deps.shouldDrive())) return;
    for (;;) {
      const folded = await deps.store.foldModelTelemetry(5000);
      if (folded.invalid > 0)
        deps.log.warn({ invalid: folded.invalid }, 'telemetry.model events that fail their schema skipped');
      if (folded.events + folded.invalid < 5000) break;
    }
    for (const rollout of await deps.store.listRollouts()) {
      if (rollout.state !== 'running' || closed) continue;
      try {
        await stepRollout(deps, rollout);
      } catch (err) {
        deps.log.error({ err, rollout: rollout.id }, 'rollout step failed; retried next tick');
      }
    }
  }

  const tick = (): Promise<void> => {
    if (closed) return Promise.resolve();
    running ??= pass()
      .catch((err: unknown) => deps.log.error({ err }, 'rollout driver pass failed'))
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const timer = setInterval(() => void tick(), deps.tickMs);
  timer.unref();
  return {
    tick,
    async close() {
      closed = true;
      clearInterval(timer);
      await running;
    },
  };
}

/**
 * Ends `rollout` as aborted when every assigned device is excluded and no replacement is left,
 * writing the tick's unsaved `events` first; the reason names the exclusions of the whole
 * `tick` (some were written already, with the device rows they explain).
 */
async function abortWhenNobodyTakesPart(
  deps: RolloutDriverDeps,
  rollout: RolloutRecord,
  devices: readonly RolloutDevice[],
  fleet: Parameters<typeof rankDevices>[1],
  events: NewEvent[],
  tick: readonly NewEvent[],
): Promise<boolean> {
  const taking = devices.filter((d) => d.excludedAt === null || d.reportedAt !== null);
  const assigned = new Set(devices.map((d) => d.deviceId));
  const replacements = rankDevices(rollout, fleet).filter((id) => !assigned.has(id));
  if (devices.length === 0 || taking.length > 0 || replacements.length > 0) return false;
  const at = deps.now();
  const reasons = [...new Set(tick.filter((e) => e.kind === 'excluded').map((e) => e.message))];
  const reason = `every targeted device (${devices.length}) was excluded, none left to take part${reasons.length ? `: ${reasons.slice(0, 3).join('; ')}` : ''}`;
  await deps.store.appendRolloutEvents(withRollout(rollout, events));
  const restored = await restoreDevices(deps, rollout, devices);
  await deps.store.updateRollout(
    rollout.id,
    { state: 'aborted', reason },
    {
      at,
      kind: 'aborted',
      stage: rollout.stage,
      message: `${reason}; ${restored} device(s) restored`,
      detail: { restored },
    },
    at,
    ['running'],
  );
  deps.log.warn(
    { rollout: rollout.id, devices: devices.length },
    'rollout aborted: every targeted device was excluded',
  );
  return true;
}
