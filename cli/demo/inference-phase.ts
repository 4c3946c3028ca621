import { type DemoModels, digitInputs } from './digits-models.js';
import type { DemoAgent } from './fleet.js';

/** Firmware profiles the demo's agents run, in order (the engines each really has differ). */
export const DEMO_PROFILES = ['x86-64-cuda', 'raspberry-pi-4', 'browser-webgpu'] as const;

/** One device's inference figures in the demo report. */
export interface DemoDeviceInference {
  id: string;
  profile: string;
  engine: string | null;
  precision: string;
  /** Engines (and variants) passed over, with the first line of why. */
  rejected: Array<{ engine: string; precision?: string; stage: string; reason: string }>;
  classified: number;
  /** Top-1 accuracy on the held-out digits it classified, 0-1. */
  accuracy: number;
  cache: { hits: number; misses: number; hitRate: number };
}

/** The demo's `inference` section. */
export interface DemoInference {
  model: { name: string; trainAccuracy: number; fp32Bytes: number; int8Bytes: number; hubModel: string };
  devices: DemoDeviceInference[];
  /** Hits ÷ lookups over every device. */
  cacheHitRate: number;
  /** Inferences the devices escalated to the hub (local-first, low confidence). */
  escalations: number;
  /** The low-confidence digit sent on purpose, and who answered it. */
  escalation: {
    device: string;
    confidence: number;
    threshold: number;
    servedBy: string;
    hubVersion: string;
    label: number;
    prediction: number;
  };
}

/** The agent config file (JSON) for `--config`: profile, hub URL and the local-first route. */
export function demoInferenceConfig(profile: string, hubUrl: string, threshold: number): unknown {
  return {
    inference: {
      profile,
      threads: 1,
      hubHttpUrl: hubUrl,
      routes: {
        digits: {
          mode: 'local-first',
          confidenceThreshold: threshold,
          cloudModel: 'digits-big',
          deadlineMs: 5000,
        },
      },
    },
  };
}

// biome-ignore lint/suspicious/noExplicitAny: the demo reads the agent's JSON answers
async function call(apiUrl: string, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(new URL(path, apiUrl), {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as unknown;
  if (!res.ok)
    throw new Error(`${method} ${path} answered ${res.status}: ${JSON.stringify(json).slice(0, 500)}`);
  return json;
}

const argmax = (data: number[]) => data.reduce((best, v, i) => (v > (data[best] ?? -1) ? i : best), 0);

/**
 * Installs the digits model (fp32 and int8 variants) on every agent through its local API
 * and activates it (each profile picks its variant and engine), classifies the held-out digits twice (the second pass is answered by the result cache),
 * then sends the least confident digit to `escalateOn`, which escalates it to the hub.
 */
export async function runInferencePhase(
  agents: DemoAgent[],
  models: DemoModels,
  escalateOn: DemoAgent,
  step: (what: string) => void,
): Promise<DemoInference> {
  const devices: DemoDeviceInference[] = [];
  let escalations = 0;
  await Promise.all(
    agents.map(async (agent, i) => {
      const api = agent.apiUrl ?? '';
      await call(api, 'POST', '/v1/models', {
        file: models.fp32File,
        name: 'digits',
        version: '1.0.0',
        precision: 'fp32',
        activate: false,
      });
      await call(api, 'POST', '/v1/models', {
        file: models.int8File,
        name: 'digits',
        version: '1.0.0',
        precision: 'int8',
        activate: false,
      });
      // Activated without naming a variant: the profile's precision order decides.
      await call(api, 'POST', '/v1/models/digits/activate', { version: '1.0.0' });
      const listing = await call(api, 'GET', '/v1/models/digits');
      let correct = 0;
      let classified = 0;
      for (let pass = 0; pass < 2; pass++) {
        for (let d = 0; d < models.test.labels.length; d++) {
          if (d === models.leastSure.index) continue;
          const r = await call(api, 'POST', '/v1/models/digits/infer', {
            inputs: digitInputs(models.test, d),
          });
          if (r.route?.escalated) escalations++;
          if (pass === 0) {
            classified++;
            if (argmax(r.outputs.probs.data) === models.test.labels[d]) correct++;
          }
        }
      }
      const status = await call(api, 'GET', '/v1/status');
      const { hits, misses } = status.inference.cache as { hits: number; misses: number };
      const active = listing.active;
      devices[i] = {
        id: agent.id,
        profile: DEMO_PROFILES[i % DEMO_PROFILES.length] ?? '',
        engine: active?.engine ?? null,
        precision: active?.precision ?? '',
        // biome-ignore lint/suspicious/noExplicitAny: the agent's JSON
        rejected: (active?.rejected ?? []).map((r: any) => ({
          engine: r.engine,
          ...(r.precision ? { precision: r.precision } : {}),
          stage: r.stage,
          reason: String(r.reason).split('\n')[0]?.slice(0, 160) ?? '',
        })),
        classified,
        accuracy: classified ? correct / classified : 0,
        cache: { hits, misses, hitRate: hits + misses ? hits / (hits + misses) : 0 },
      };
    }),
  );
  step(
    `digits model (trained here on real MNIST, int8 variant by the quantizer) on every agent: ` +
      devices.map((d) => `${d.id} ${d.engine}/${d.precision} (${d.rejected.length} rejected)`).join(', '),
  );
  const probe = await call(escalateOn.apiUrl ?? '', 'POST', '/v1/models/digits/infer', {
    inputs: digitInputs(models.test, models.leastSure.index),
  });
  if (probe.route?.escalated) escalations++;
  const escalation = {
    device: escalateOn.id,
    confidence: probe.route?.confidence ?? models.leastSure.confidence,
    threshold: models.threshold,
    servedBy: String(probe.route?.servedBy ?? 'local'),
    hubVersion: probe.route?.servedBy === 'cloud' ? String(probe.version ?? '') : '',
    label: models.test.labels[models.leastSure.index] ?? -1,
    prediction: argmax(probe.outputs.probs.data),
  };
  step(
    `${escalateOn.id} was unsure of a digit (confidence ${escalation.confidence.toFixed(2)} < ${models.threshold.toFixed(2)}) ` +
      `and escalated it: answered by ${escalation.servedBy === 'cloud' ? "the hub's digits-big" : 'the device (hub unreachable)'}`,
  );
  const hits = devices.reduce((s, d) => s + d.cache.hits, 0);
  const lookups = devices.reduce((s, d) => s + d.cache.hits + d.cache.misses, 0);
  return {
    model: {
      name: 'digits',
      trainAccuracy: models.trainAccuracy,
      fp32Bytes: models.fp32Bytes,
      int8Bytes: models.int8Bytes,
      hubModel: 'digits-big',
    },
    devices,
    cacheHitRate: lookups ? hits / lookups : 0,
    escalations,
    escalation,
  };
}
