import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { OutpostError, type RolloutRequest, type RolloutState, rolloutSubject } from '../../shared/index.js';
import type { RolloutDevice, RolloutEvent, RolloutRecord } from '../store/rollout-types.js';
import type { HubStore } from '../store/types.js';
import { judgeAgentRollout, summariseAgent } from './agent-target.js';
import { armCounters, candidateDrift, type DriftLookup, judgeRollout, summarise } from './evaluate.js';
import { type RolloutDesired, restoreDevices } from './pins.js';
import { ROLLOUT_STRATEGIES } from './strategies/index.js';

/** `rollouts status`: the rollout, its arms' metrics side by side, gates, devices and timeline. */
export interface RolloutStatus {
  rollout: RolloutRecord;
  stage: { index: number; percent: number; of: number; startedAt: number; bakeLeftMs: number };
  gates: ReturnType<typeof judgeRollout>['results'];
  verdict: 'pass' | 'fail' | 'wait';
  arms: Array<{
    arm: RolloutDevice['arm'];
    version: string;
    role: string;
    devices: number;
    reporting: number;
    metrics: Record<string, number | null>;
  }>;
  devices: RolloutDevice[];
  timeline: RolloutEvent[];
}

/** Operator actions on rollouts, behind `/v1/rollouts` and `outpost rollouts`. */
export interface RolloutService {
  /** Validated request → stored rollout (state running). `HUB_MODEL_NOT_FOUND`, `HUB_ROLLOUT_CONFLICT`. */
  create(request: RolloutRequest): Promise<RolloutRecord>;
  list(): Promise<RolloutRecord[]>;
  status(id: string): Promise<RolloutStatus>;
  /** Freezes it: no new devices, no advancing, no automatic rollback. */
  pause(id: string): Promise<RolloutRecord>;
  /** Unfreezes a paused rollout; the bake time of the stage starts again. */
  resume(id: string): Promise<RolloutRecord>;
  /** Ends it where it stands: devices keep what they were given. */
  abort(id: string, reason?: string): Promise<RolloutRecord>;
  /** Ends it and restores every device it changed to its previous version. */
  rollback(id: string, reason?: string): Promise<RolloutRecord>;
}

const LIVE: readonly RolloutState[] = ['running', 'paused'];

/** Builds the {@link RolloutService}; `kick` runs a driver pass soon (after create/resume). */
export function createRolloutService(deps: {
  store: HubStore;
  desired: RolloutDesired;
  log: Logger;
  now: () => number;
  kick: () => void;
  /** Drift per model version for drift gates. */
  drift?: DriftLookup;
}): RolloutService {
  const { store, now } = deps;

  const get = async (id: string) => {
    const r = await store.getRollout(id);
    if (r === undefined) throw new OutpostError('HUB_ROLLOUT_NOT_FOUND', `no rollout ${id}`);
    return r;
  };
  const base = (rollout: RolloutRecord, devices: RolloutDevice[], timeline: RolloutEvent[]) => ({
    rollout,
    stage: {
      index: rollout.stage,
      percent: rollout.spec.stages[rollout.stage] ?? 100,
      of: rollout.spec.stages.length,
      startedAt: rollout.stageStartedAt,
      bakeLeftMs: Math.max(0, rollout.stageStartedAt + rollout.spec.bakeMs - now()),
    },
    devices,
    timeline,
  });
  const event = (kind: string, stage: number, message: string, detail: unknown = null) => ({
    at: now(),
    kind,
    stage,
    message,
    detail,
  });

  return {
    async create(request) {
      if (request.target === 'agent') {
        if ((await store.listAgentBundles(request.version)).length === 0)
          throw new OutpostError(
            'HUB_AGENT_BUNDLE_NOT_FOUND',
            `agent ${request.version} has no bundle in the registry (outpost agents push)`,
          );
      }
      const versions =
        request.target === 'agent' ? [] : [request.version, ...(request.control ? [request.control] : [])];
      for (const v of versions) {
        if ((await store.getModelVersion(request.model, v)) === undefined)
          throw new OutpostError('HUB_MODEL_NOT_FOUND', `model ${request.model}@${v} is not registered`);
      }
      const live = (await store.listRollouts()).find(
        (r) => r.spec.model === request.model && LIVE.includes(r.state),
      );
      if (live)
        throw new OutpostError(
          'HUB_ROLLOUT_CONFLICT',
          `rollout ${live.id} of ${request.target === 'agent' ? 'the agent' : request.model} is ${live.state}; abort or finish it first`,
        );
      const id = `r-${randomBytes(6).toString('hex')}`;
      const stages = request.stages.map((p) => `${p}%`).join(' → ');
      const created = await store.createRollout(
        id,
        request,
        now(),
        event(
          'created',
          0,
          `${request.mode} ${rolloutSubject(request)}${request.control ? ` vs ${request.control}` : ''}: ${stages}, bake ${request.bakeMs} ms, gates ${request.gates.join(' ') || 'none'}`,
          { spec: request },
        ),
      );
      deps.log.info(
        { rollout: id, model: request.model, version: request.version, mode: request.mode },
        'rollout created',
      );
      deps.kick();
      return created;
    },
    list: () => store.listRollouts(),
    async status(id) {
      const rollout = await get(id);
      const spec = rollout.spec;
      const strategy = ROLLOUT_STRATEGIES[spec.mode];
      const [devices, rows, timeline] = await Promise.all([
        store.listRolloutDevices(id),
        store.modelCounters({ rolloutId: id }),
        store.listRolloutEvents(id),
      ]);
      if (spec.target === 'agent') {
        const byId = new Map((await store.listDevices()).map((d) => [d.id, d]));
        const judged = judgeAgentRollout(spec, id, devices, byId);
        return {
          ...base(rollout, devices, timeline),
          gates: judged.results,
          verdict: judged.verdict,
          arms: [
            {
              arm: 'candidate',
              version: spec.version,
              role: 'agent',
              devices: judged.agent.assigned,
              reporting: judged.agent.updated,
              metrics: summariseAgent(judged.agent),
            },
          ],
        };
      }
      const verdict = judgeRollout(
        spec,
        strategy,
        devices,
        rows,
        await candidateDrift(spec, strategy, deps.drift),
      );
      const armNames = spec.mode === 'ab' ? (['candidate', 'control'] as const) : (['candidate'] as const);
      return {
        ...base(rollout, devices, timeline),
        gates: verdict.results,
        verdict: verdict.verdict,
        arms: armNames.map((arm) => {
          const { version, role } = strategy.reports(spec, arm);
          const { counters, devices: reporting } = armCounters(spec, strategy, arm, devices, rows);
          return {
            arm,
            version,
            role,
            devices: devices.filter((d) => d.arm === arm && (d.excludedAt === null || d.reportedAt !== null))
              .length,
            reporting,
            metrics: summarise(counters),
          };
        }),
      };
    },
    async pause(id) {
      const r = await get(id);
      return store.updateRollout(
        id,
        { state: 'paused' },
        event('paused', r.stage, 'paused by operator'),
        now(),
        ['running'],
      );
    },
    async resume(id) {
      const r = await get(id);
      const resumed = await store.updateRollout(
        id,
        { state: 'running', stageStartedAt: now() },
        event('resumed', r.stage, `resumed by operator; stage ${r.stage + 1} bakes again`),
        now(),
        ['paused'],
      );
      // A pause stops the devices' deadline clocks too: those still waiting start over.
      const waiting = (await store.listRolloutDevices(id)).filter(
        (d) => d.reportedAt === null && d.excludedAt === null && d.rolledBackAt === null,
      );
      if (waiting.length > 0)
        await store.putRolloutDevices(waiting.map((d) => ({ ...d, assignedAt: now() })));
      deps.kick();
      return resumed;
    },
    async abort(id, reason = 'aborted by operator') {
      const r = await get(id);
      return store.updateRollout(
        id,
        { state: 'aborted', reason },
        event('aborted', r.stage, `${reason}; devices keep their current pins`),
        now(),
        LIVE,
      );
    },
    async rollback(id, reason = 'rolled back by operator') {
      const r = await get(id);
      if (!LIVE.includes(r.state) && r.state !== 'completed' && r.state !== 'aborted')
        throw new OutpostError('HUB_ROLLOUT_CONFLICT', `rollout ${id} is already ${r.state}`);
      const restored = await restoreDevices(deps, r, await store.listRolloutDevices(id));
      return store.updateRollout(
        id,
        { state: 'rolled-back', reason },
        event('rolled-back', r.stage, `${reason}; ${restored} device(s) rolled back`, { restored }),
        now(),
      );
    },
  };
}
