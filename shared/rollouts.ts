import { createHash } from 'node:crypto';
import { z } from 'zod';
import { AGENT_GATE_METRICS } from './agent-rollout-gates.js';
import { SemverSchema } from './manifest.js';
import { GATE_METRICS, GateSyntaxError, parseGateOf } from './rollout-gates.js';

/**
 * Rollout strategies: `canary` moves devices to the version stage by
 * stage; `shadow` runs it beside the active version on stage devices and promotes it at the
 * end; `ab` splits devices between a control version and the candidate by cohort.
 */
export const ROLLOUT_MODES = ['canary', 'shadow', 'ab'] as const;
export const RolloutModeSchema = z.enum(ROLLOUT_MODES);
export type RolloutMode = z.infer<typeof RolloutModeSchema>;

/** Lifecycle of a rollout; the last four are final. */
export const ROLLOUT_STATES = ['running', 'paused', 'completed', 'rolled-back', 'aborted'] as const;
export type RolloutState = (typeof ROLLOUT_STATES)[number];

const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Parses `500ms`, `10s`, `10m`, `2h`, `1d` (or a plain number of ms) to ms; undefined if malformed. */
export function parseDurationMs(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isFinite(text) && text >= 0 ? Math.round(text) : undefined;
  const m = DURATION_RE.exec(text.trim());
  if (m === null) return /^\d+$/.test(text.trim()) ? Number(text.trim()) : undefined;
  return Math.round(Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]);
}

/** A duration field: `"10m"`-style text or ms; parses to ms. */
export const DurationSchema = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const ms = parseDurationMs(v);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a duration such as 500ms, 30s, 10m, 2h` });
    return z.NEVER;
  }
  return ms;
});

/**
 * A device selector, `key=value` pairs joined by commas, all of which must match:
 * `profile=NAME` the firmware profile the device reports, `id=ID` the device id, any other
 * key a device label (`tag=edge` matches label `tag` = `edge`). Empty selects every device.
 */
export type Selector = Record<string, string>;

/** Parses `tag=edge,profile=raspberry-pi-4`; throws naming the malformed pair. */
export function parseSelector(text: string): Selector {
  const out: Selector = {};
  for (const part of text.split(',').map((p) => p.trim())) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0 || eq === part.length - 1) throw new Error(`selector part "${part}" is not key=value`);
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

/** What a device looks like to a selector. */
export interface SelectableDevice {
  id: string;
  labels: Record<string, string>;
  profile?: string | undefined;
}

/** True when every pair of the selector matches the device. */
export function matchesSelector(selector: Selector, device: SelectableDevice): boolean {
  for (const [key, value] of Object.entries(selector)) {
    const actual = key === 'profile' ? device.profile : key === 'id' ? device.id : device.labels[key];
    if (actual !== value) return false;
  }
  return true;
}

/**
 * Stable cohort position of a device in a rollout, in [0, 1): the first 32 bits of
 * SHA-256(`rolloutId:deviceId`). It depends on nothing else, so a device's position never
 * changes between stages, hub restarts or replicas.
 */
export function cohortPosition(rolloutId: string, deviceId: string): number {
  const digest = createHash('sha256').update(`${rolloutId}:${deviceId}`).digest();
  return digest.readUInt32BE(0) / 2 ** 32;
}

/** What a rollout moves: a model version, or an agent release (docs/agent-updates.md). */
export const ROLLOUT_TARGETS = ['model', 'agent'] as const;
export type RolloutTarget = (typeof ROLLOUT_TARGETS)[number];

/**
 * The `model` an agent rollout is recorded under: not a valid model name, so it never meets a
 * registered model, and one live rollout per model means one live agent rollout at a time.
 */
export const AGENT_ROLLOUT_MODEL = '@agent';

/** The gate metrics a rollout of `target` may name. */
export function gateMetricsFor(target: RolloutTarget) {
  return target === 'agent' ? AGENT_GATE_METRICS : GATE_METRICS;
}

/** `model@1.2.0`, or `agent 0.2.1` for an agent rollout: how a rollout is named to people. */
export function rolloutSubject(spec: { target?: RolloutTarget; model: string; version: string }): string {
  return spec.target === 'agent' ? `agent ${spec.version}` : `${spec.model}@${spec.version}`;
}

/** `POST /v1/rollouts`: what an operator asks for. */
export const RolloutRequestSchema = z
  .strictObject({
    /** `model` (default): a model version; `agent`: an agent release from `outpost agents push`. */
    target: z.enum(ROLLOUT_TARGETS).default('model'),
    /** The model (target `model` only). */
    model: z.string().min(1).max(128).optional(),
    /** The candidate version (of the model, or the agent release). */
    version: SemverSchema,
    mode: RolloutModeSchema.default('canary'),
    /** Devices in scope; see {@link parseSelector}. */
    selector: z.record(z.string().min(1).max(64), z.string().max(256)).default({}),
    /**
     * Cumulative percentages of the selected devices per stage, ascending, last one the end
     * state (canary/shadow; `ab` uses only the first as the candidate arm's share).
     */
    stages: z
      .array(z.number().gt(0).max(100))
      .min(1)
      .max(20)
      .default([1, 10, 50, 100])
      .refine((s) => s.every((p, i) => i === 0 || p > (s[i - 1] as number)), 'stages must be ascending'),
    /** Time each stage runs before it may advance, ms (or `"10m"`). Default 10 minutes. */
    bakeMs: DurationSchema.default(600_000),
    /**
     * Gates such as `error_rate<0.01` (`shared/rollout-gates.ts`); an agent rollout's gates
     * are `shared/agent-rollout-gates.ts`'s, e.g. `online_s<=120`.
     */
    gates: z.array(z.string().max(256)).max(16).default([]),
    /**
     * A device that has not reported the version this long after it was assigned is
     * excluded: it never holds the rollout. Default 30 minutes.
     */
    deviceDeadlineMs: DurationSchema.default(1_800_000),
    /** `ab` only: the control arm's version (required there). */
    control: SemverSchema.optional(),
  })
  .superRefine((r, ctx) => {
    for (const [i, text] of r.gates.entries()) {
      try {
        parseGateOf(text, gateMetricsFor(r.target));
      } catch (err) {
        if (!(err instanceof GateSyntaxError)) throw err;
        ctx.addIssue({ code: 'custom', path: ['gates', i], message: err.message });
      }
    }
    if (r.target === 'model' && r.model === undefined)
      ctx.addIssue({ code: 'custom', path: ['model'], message: 'a model rollout names its model' });
    if (r.target === 'agent') {
      if (r.model !== undefined && r.model !== AGENT_ROLLOUT_MODEL)
        ctx.addIssue({ code: 'custom', path: ['model'], message: 'an agent rollout names no model' });
      if (r.mode !== 'canary')
        ctx.addIssue({
          code: 'custom',
          path: ['mode'],
          message: 'an agent rollout is a canary (stages of devices)',
        });
    }
    if (r.mode === 'ab' && r.control === undefined)
      ctx.addIssue({ code: 'custom', path: ['control'], message: 'mode ab needs a control version' });
    if (r.mode === 'ab' && r.stages.length !== 1)
      ctx.addIssue({
        code: 'custom',
        path: ['stages'],
        message: 'mode ab takes one stage: the percentage of devices on the candidate (e.g. [50])',
      });
    if (r.mode === 'ab' && r.control === r.version)
      ctx.addIssue({ code: 'custom', path: ['control'], message: 'control must differ from version' });
  })
  .transform((r) => ({ ...r, model: r.model ?? AGENT_ROLLOUT_MODEL }));
export type RolloutRequest = z.output<typeof RolloutRequestSchema>;
export type RolloutRequestInput = z.input<typeof RolloutRequestSchema>;
