/**
 * Helpers of the delivery tests: pushing artifacts over the real admin HTTP API, and
 * `outpost models` run in this process.
 */
import { type Logger, pino } from 'pino';
import { runModelsCommand } from '../../cli/commands/models.js';
import { CliError } from '../../cli/exit-codes.js';
import type { Hub } from '../../hub/index.js';
import { OnnxModelBuilder } from '../../inference/index.js';
import { configFromFlags } from '../../shared/index.js';

/** Pushes an artifact with `POST /v1/models/:name/versions/:version` (octet-stream body). */
export async function pushModel(
  hub: Hub,
  name: string,
  version: string,
  bytes: Uint8Array,
  query: Record<string, string> = {},
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
): Promise<{ status: number; body: any }> {
  const qs = new URLSearchParams(query).toString();
  const res = await fetch(`${hub.http.url}/v1/models/${name}/versions/${version}${qs ? `?${qs}` : ''}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${hub.adminToken}`, 'content-type': 'application/octet-stream' },
    body: bytes,
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}

/** `Authorization: Basic` for a device. */
export function basicAuth(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
}

/** A model's delivery report as the hub last stored it from the device's reported state. */
// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
export async function modelReport(hub: Hub, deviceId: string, name: string): Promise<any> {
  const device = await hub.store.getDevice(deviceId);
  const models = (device?.reported as { models?: Array<{ name: string }> } | null)?.models ?? [];
  return models.find((m) => m.name === name);
}

/**
 * An ONNX model of about `bytes` bytes: x [1, 4] · w [4, n] → y [1, n] (float32). Its output
 * is too large for a manifest reference, so agents admit it on a warm-up run.
 */
export function bigOnnxModel(bytes: number, seed = 1): Uint8Array {
  const n = Math.max(1, Math.floor(bytes / 16));
  const w = new Float32Array(4 * n);
  let s = seed >>> 0;
  for (let i = 0; i < w.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    w[i] = s / 2 ** 32 - 0.5;
  }
  return new OnnxModelBuilder('big')
    .input('x', 'float32', [1, 4])
    .initializer('w', { dtype: 'float32', dims: [4, n], data: w })
    .node('MatMul', ['x', 'w'], ['y'])
    .output('y', 'float32', [1, n])
    .build();
}

/** A pino logger that keeps every line (JSON) in `lines`. */
export function capturingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) };
  return { logger: pino({ level: 'info' }, stream), lines };
}

/**
 * Runs `outpost models ARGS` in this process, through the CLI's own flag parser and command
 * function, with `env` added to the environment for the call: what it printed (a refusal's
 * message appended) and the exit code it would have ended with. A process start costs seconds
 * on a loaded machine; the exit codes of real processes are tested with `runCli`.
 */
export async function modelsInProcess(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string }> {
  const { config: flags, positionals } = configFromFlags(args);
  const lines: string[] = [];
  const log = console.log;
  const saved = { ...process.env };
  Object.assign(process.env, env);
  console.log = (...parts: unknown[]) => lines.push(parts.join(' '));
  try {
    await runModelsCommand(positionals, flags);
    return { code: 0, stdout: lines.join('\n') };
  } catch (err) {
    if (err instanceof CliError) return { code: err.exitCode, stdout: `${lines.join('\n')}${err.message}` };
    throw err;
  } finally {
    console.log = log;
    process.env = saved;
  }
}
