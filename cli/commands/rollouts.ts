import {
  AGENT_GATE_METRICS,
  type ConfigObject,
  GATE_METRICS,
  type GateMetricSet,
  parseSelector,
  rolloutSubject,
} from '../../shared/index.js';
import { HUB_CLIENT_HELP, hubEndpoint } from '../client-settings.js';
import { CliError, EXIT } from '../exit-codes.js';
import { table } from '../format.js';
import { type HubEndpoint, hubRequest } from '../hub-client.js';
import { terminalSafe } from '../terminal-text.js';

/** The gate metrics of one kind, as a comma-separated list (from {@link GATE_METRICS}). */
function gateMetricsOf(kind: 'health' | 'evidence', metrics: GateMetricSet = GATE_METRICS): string {
  return Object.keys(metrics)
    .filter((m) => metrics[m]?.kind === kind)
    .join(', ');
}

/** Rows of the status table's metrics: every gate metric (from {@link GATE_METRICS}) and the error count. */
export const STATUS_METRICS: readonly string[] = [
  'requests',
  'errors',
  ...Object.keys(GATE_METRICS).filter((m) => m !== 'requests'),
];

export const ROLLOUTS_HELP = `outpost rollouts create --model M --version V [--selector tag=edge,profile=P]
                        [--stages 1,10,50,100] [--bake 10m] [--gate "error_rate<0.01" ...]
                        [--mode canary|shadow|ab] [--control V0] [--split 50]
                        [--device-deadline 30m] [--json]
outpost rollouts create --agent V [--selector …] [--stages …] [--bake …] [--gate "online_s<=120" ...]
                        [--device-deadline 30m] [--json]
outpost rollouts list [--json]
outpost rollouts status ID [--json]
outpost rollouts pause|resume ID
outpost rollouts abort|rollback ID [--reason TEXT]

${HUB_CLIENT_HELP}

Gates: METRIC OP NUMBER with OP one of < <= > >=. Metrics: ${gateMetricsOf('health')}
(health: a failure rolls back every device that got the version) and ${gateMetricsOf('evidence')}
(evidence: the rollout waits for them, never rolls back).
Modes: canary (stages of devices run V), shadow (V runs beside the active version; promoted
when the last stage passes), ab (--split % of devices on V, the rest on --control).
--agent V rolls out agent release V (outpost agents push) in canary stages: each device's
launcher installs it and reverts it by itself when it does not confirm its health. Agent
gates: ${gateMetricsOf('health', AGENT_GATE_METRICS)} (health) and ${gateMetricsOf('evidence', AGENT_GATE_METRICS)}
(evidence); failed<1 is implied (one device reverting the release rolls it back) unless a
failed gate is given.

Examples:
  outpost rollouts create --model digits --version 2.0.0 --stages 10,50,100 --bake 10m \\
      --gate "requests>=100" --gate "error_rate<0.01" --gate "p95_ms<50"
  outpost rollouts create --model digits --version 2.1.0 --mode shadow --gate "agreement>0.95"
  outpost rollouts create --model digits --version 3.0.0 --mode ab --control 2.0.0 --split 50
  outpost rollouts create --agent 0.2.0 --stages 5,50,100 --bake 30m --gate "online_s<=120" --gate "crashes<1"
  outpost rollouts status r-0123456789ab`;

const endpoint = (flags: ConfigObject): HubEndpoint => hubEndpoint(flags);

const list = (v: unknown): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)];

function numbers(text: string, flag: string): number[] {
  const out = text.split(',').map((p) => Number(p.trim()));
  if (out.some((n) => !Number.isFinite(n)))
    throw new CliError(`${flag} must be numbers like 1,10,50,100`, EXIT.USAGE);
  return out;
}

/** The `POST /v1/rollouts` body from flags (the hub validates it and names every problem). */
export function rolloutRequestFromFlags(flags: ConfigObject): Record<string, unknown> {
  const need = (name: string) => {
    const v = flags[name];
    if (typeof v !== 'string') throw new CliError(`--${name} is required`, EXIT.USAGE);
    return v;
  };
  if (typeof flags.agent === 'string') {
    for (const flag of ['model', 'version', 'mode', 'control', 'split'])
      if (flags[flag] !== undefined)
        throw new CliError(
          `--agent takes no --${flag}: an agent rollout is a canary of one release`,
          EXIT.USAGE,
        );
  }
  const mode = typeof flags.mode === 'string' ? flags.mode : 'canary';
  let selector: Record<string, string> = {};
  try {
    selector = typeof flags.selector === 'string' ? parseSelector(flags.selector) : {};
  } catch (err) {
    throw new CliError(`--selector: ${(err as Error).message}`, EXIT.USAGE);
  }
  const stages =
    mode === 'ab'
      ? [Number(flags.split ?? 50)]
      : typeof flags.stages === 'string' || typeof flags.stages === 'number'
        ? numbers(String(flags.stages), '--stages')
        : undefined;
  const target =
    typeof flags.agent === 'string'
      ? { target: 'agent', version: flags.agent }
      : { model: need('model'), version: need('version') };
  return {
    ...target,
    mode,
    selector,
    ...(stages ? { stages } : {}),
    ...(flags.bake !== undefined ? { bakeMs: String(flags.bake) } : {}),
    gates: list(flags.gate),
    ...(flags.deviceDeadline !== undefined ? { deviceDeadlineMs: String(flags.deviceDeadline) } : {}),
    ...(typeof flags.control === 'string' ? { control: flags.control } : {}),
  };
}

interface Rollout {
  id: string;
  spec: {
    target?: 'model' | 'agent';
    model: string;
    version: string;
    mode: string;
    stages: number[];
    control?: string;
  };
  state: string;
  stage: number;
  reason: string | null;
  createdAt: number;
}

const fmt = (v: unknown) =>
  v === null || v === undefined ? '–' : typeof v === 'number' ? String(Number(v.toFixed(4))) : String(v);
const clock = (ms: number) => new Date(ms).toISOString().slice(11, 23);

/** Prints `rollouts status` for people: header, gates, arms side by side, devices, timeline. */
// biome-ignore lint/suspicious/noExplicitAny: the hub's JSON status
export function formatStatus(s: any): string {
  const r = s.rollout as Rollout;
  const out: string[] = [];
  out.push(
    `${r.id}  ${r.spec.mode} ${rolloutSubject(r.spec)}${r.spec.control ? ` vs ${r.spec.control}` : ''}  ${r.state.toUpperCase()}`,
    `stage ${s.stage.index + 1}/${s.stage.of} (${s.stage.percent}%)${r.state === 'running' ? `, bake left ${Math.ceil(s.stage.bakeLeftMs / 1000)} s` : ''}${r.reason ? `\nreason: ${r.reason}` : ''}`,
    '',
  );
  if (s.gates.length > 0) {
    out.push(
      table(
        ['GATE', 'KIND', 'VALUE', 'STATUS'],
        s.gates.map((g: { gate: string; kind: string; value: unknown; status: string }) => [
          g.gate,
          g.kind,
          fmt(g.value),
          g.status,
        ]),
      ),
      '',
    );
  }
  // biome-ignore lint/suspicious/noExplicitAny: the hub's JSON status
  const arms = s.arms as any[];
  out.push(
    table(
      ['METRIC', ...arms.map((a) => `${a.arm} ${a.version} (${a.role}, ${a.reporting}/${a.devices} dev)`)],
      (r.spec.target === 'agent' ? Object.keys(arms[0]?.metrics ?? {}) : STATUS_METRICS).map((m) => [
        m,
        ...arms.map((a) => fmt(a.metrics[m])),
      ]),
    ),
    '',
  );
  out.push(
    table(
      ['DEVICE', 'ARM', 'STAGE', 'PREVIOUS', 'REPORTED', 'EXCLUDED', 'ROLLED BACK'],
      // biome-ignore lint/suspicious/noExplicitAny: the hub's JSON status
      s.devices.map((d: any) => [
        d.deviceId,
        d.arm,
        String(d.stage + 1),
        d.previous ?? '–',
        d.reportedAt ? clock(d.reportedAt) : '–',
        d.excludedAt ? clock(d.excludedAt) : '–',
        d.rolledBackAt ? clock(d.rolledBackAt) : '–',
      ]),
    ),
    '',
    'timeline:',
    ...s.timeline.map(
      (e: { at: number; kind: string; message: string }) =>
        `  ${clock(e.at)}  ${e.kind.padEnd(12)} ${e.message}`,
    ),
  );
  return out.join('\n');
}

/** `outpost rollouts create|list|status|pause|resume|abort|rollback`. */
export async function runRolloutsCommand(positionals: string[], flags: ConfigObject): Promise<void> {
  const [action, id] = positionals;
  const json = flags.json === true;
  const hub = () => endpoint(flags);
  const needId = () => {
    if (!id) throw new CliError(`rollouts ${action} needs a rollout ID`, EXIT.USAGE);
    return id;
  };
  switch (action) {
    case 'create': {
      const created = await hubRequest<Rollout>(
        hub(),
        'POST',
        '/v1/rollouts',
        rolloutRequestFromFlags(flags),
      );
      console.log(
        json
          ? JSON.stringify(created)
          : `created ${created.id} (${created.spec.mode} ${rolloutSubject(created.spec)})`,
      );
      return;
    }
    case 'list': {
      const { rollouts } = await hubRequest<{ rollouts: Rollout[] }>(hub(), 'GET', '/v1/rollouts');
      if (json) return console.log(JSON.stringify({ rollouts }));
      console.log(
        table(
          ['ID', 'MODE', 'MODEL', 'VERSION', 'STATE', 'STAGE', 'CREATED', 'REASON'],
          rollouts.map((r) => [
            r.id,
            r.spec.mode,
            r.spec.target === 'agent' ? '(agent)' : r.spec.model,
            r.spec.version,
            r.state,
            `${r.stage + 1}/${r.spec.stages.length}`,
            new Date(r.createdAt).toISOString(),
            r.reason ?? '',
          ]),
        ),
      );
      return;
    }
    case 'status': {
      const status = await hubRequest<unknown>(hub(), 'GET', `/v1/rollouts/${needId()}`);
      console.log(json ? JSON.stringify(status) : terminalSafe(formatStatus(status)));
      return;
    }
    case 'pause':
    case 'resume':
    case 'abort':
    case 'rollback': {
      const body = typeof flags.reason === 'string' ? { reason: flags.reason } : undefined;
      const r = await hubRequest<Rollout>(hub(), 'POST', `/v1/rollouts/${needId()}/${action}`, body);
      console.log(
        json ? JSON.stringify(r) : terminalSafe(`${r.id} ${r.state}${r.reason ? `: ${r.reason}` : ''}`),
      );
      return;
    }
    default:
      throw new CliError(
        `unknown rollouts action ${JSON.stringify(action ?? '')}\n\n${ROLLOUTS_HELP}`,
        EXIT.USAGE,
      );
  }
}
