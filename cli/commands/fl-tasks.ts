import { type ConfigObject, parseSelector } from '../../shared/index.js';
import { HUB_CLIENT_HELP, hubEndpoint } from '../client-settings.js';
import { CliError, EXIT } from '../exit-codes.js';
import { table } from '../format.js';
import { type HubEndpoint, hubRequest } from '../hub-client.js';
import { terminalSafe } from '../terminal-text.js';

export const FL_TASKS_HELP = `outpost fl start --model M --version V [--strategy fedavg] [--strategy-params JSON]
                [--mode sync|async] [--rounds 3] [--fraction 1 | --count N] [--min-clients 1]
                [--selector k=v,...] [--deadline 60] [--grace 300] [--buffer-k 2]
                [--max-staleness 5] [--lr 0.05] [--epochs 1] [--batch 10] [--clip-norm 10]
                [--compression none|int8|topk] [--topk-fraction 0.01] [--dp-noise Z]
                [--hub-eval PER_CLASS] [--register] [--rollout-stages 10,100] [--rollout-bake 10m]
                [--trainable-layers NAME,... | --trainable-last N] [--id ID] [--json]
outpost fl status [ID] [--json]
outpost fl stop ID

Federated tasks on the hub. The starting model is M@V from the registry
(a tfjs-layers version, or an ONNX version the closed loop registered). Fine-tuning:
--trainable-layers names the layers that train (--trainable-last N: the last N layers with
weights); the others are frozen and only the trained layers' deltas travel. Rounds run on the devices that match --selector and are online:
each trains on its own samples (POST /v1/samples on its agent), the hub aggregates with the
strategy, evaluates (--hub-eval: N held-out MNIST digits per class) and, with --register,
registers every improving round as a new version and rolls the best out at the end
(--rollout-stages). --deadline/--grace are seconds.

${HUB_CLIENT_HELP}

Examples:
  outpost fl start --model digits --version 1.0.0 --rounds 5 --fraction 0.5 --min-clients 2 --hub-eval 20 --register
  outpost fl status fl-0123456789ab`;

const endpoint = (flags: ConfigObject): HubEndpoint => hubEndpoint(flags);

const num = (flags: ConfigObject, name: string): number | undefined => {
  const v = flags[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n))
    throw new CliError(`--${name} must be a number, got ${JSON.stringify(v)}`, EXIT.USAGE);
  return n;
};

function json(flags: ConfigObject, name: string): Record<string, unknown> | undefined {
  const v = flags[name];
  if (v === undefined) return undefined;
  try {
    return JSON.parse(String(v)) as Record<string, unknown>;
  } catch (err) {
    throw new CliError(`--${name} is not JSON: ${(err as Error).message}`, EXIT.USAGE);
  }
}

/** The `POST /v1/federated/tasks` body from flags (the hub validates it and names every problem). */
export function taskRequestFromFlags(flags: ConfigObject): Record<string, unknown> {
  const need = (name: string) => {
    const v = flags[name];
    if (typeof v !== 'string') throw new CliError(`--${name} is required`, EXIT.USAGE);
    return v;
  };
  let selector: Record<string, string> | undefined;
  try {
    selector = typeof flags.selector === 'string' ? parseSelector(flags.selector) : undefined;
  } catch (err) {
    throw new CliError(`--selector: ${(err as Error).message}`, EXIT.USAGE);
  }
  const body: Record<string, unknown> = { model: { name: need('model'), version: need('version') } };
  const set = (key: string, value: unknown) => {
    if (value !== undefined) body[key] = value;
  };
  set('id', flags.id);
  set('strategy', flags.strategy);
  set('strategyParams', json(flags, 'strategyParams'));
  set('mode', flags.mode);
  set('rounds', num(flags, 'rounds'));
  set('fraction', num(flags, 'fraction'));
  set('count', num(flags, 'count'));
  set('minClients', num(flags, 'minClients'));
  set('selector', selector);
  set('deadlineS', num(flags, 'deadline'));
  set('graceS', num(flags, 'grace'));
  set('bufferK', num(flags, 'bufferK'));
  set('maxStaleness', num(flags, 'maxStaleness'));
  set('lr', num(flags, 'lr'));
  set('epochs', num(flags, 'epochs'));
  set('batchSize', num(flags, 'batch'));
  set('clipNorm', num(flags, 'clipNorm'));
  if (flags.compression !== undefined) {
    body.compression = {
      kind: flags.compression,
      ...(flags.topkFraction !== undefined ? { topkFraction: num(flags, 'topkFraction') } : {}),
    };
  }
  if (flags.trainableLayers !== undefined && flags.trainableLast !== undefined)
    throw new CliError('give --trainable-layers or --trainable-last, not both', EXIT.USAGE);
  if (flags.trainableLayers !== undefined)
    body.trainableLayers = String(flags.trainableLayers)
      .split(',')
      .map((n) => n.trim())
      .filter((n) => n !== '');
  if (flags.trainableLast !== undefined) body.trainableLayers = { last: num(flags, 'trainableLast') };
  if (flags.dpNoise !== undefined) body.dp = { noiseMultiplier: num(flags, 'dpNoise') };
  if (flags.hubEval !== undefined) body.hubEval = { perClass: num(flags, 'hubEval') };
  if (flags.register !== undefined || flags.rolloutStages !== undefined) {
    const stages =
      flags.rolloutStages === undefined ? undefined : String(flags.rolloutStages).split(',').map(Number);
    body.closedLoop = {
      register: true,
      ...(stages
        ? {
            rollout: {
              stages,
              ...(flags.rolloutBake !== undefined ? { bakeMs: String(flags.rolloutBake) } : {}),
            },
          }
        : {}),
    };
  }
  return body;
}

const pct = (x: unknown) => (typeof x === 'number' ? `${(100 * x).toFixed(1)}%` : '–');

// biome-ignore lint/suspicious/noExplicitAny: the hub's JSON
function formatRounds(task: any, rounds: any[]): string {
  const head = `${task.id}  ${task.spec.strategy} ${task.spec.mode} ${task.spec.model.name}@${task.spec.model.version}  ${String(task.status).toUpperCase()}  round ${task.round}/${task.spec.rounds}${task.reason ? `\nreason: ${task.reason}` : ''}${task.best ? `\nbest: round ${task.best.round} ${pct(task.best.accuracy)}${task.best.version ? ` → version ${task.best.version}` : ''}` : ''}`;
  const rows = rounds.map((r) => [
    String(r.round),
    r.status,
    `${r.metrics.accepted ?? 0}/${r.selected.length}`,
    Object.entries(r.metrics.rejected ?? {})
      .map(([k, v]) => `${k}:${v}`)
      .join(' ') || '–',
    String(r.metrics.dropouts ?? '–'),
    pct(r.metrics.federatedEval?.accuracy),
    pct(r.metrics.hubEval?.accuracy),
    r.metrics.dp ? `ε=${Number(r.metrics.dp.epsilon).toFixed(2)}` : '–',
    r.metrics.closedLoop?.version ?? r.metrics.failure ?? '',
  ]);
  return `${head}\n\n${table(['ROUND', 'STATUS', 'ACCEPTED', 'REJECTED', 'DROPOUTS', 'DEVICE EVAL', 'HUB EVAL', 'DP', 'NOTE'], rows)}`;
}

/** `outpost fl start|status|stop …` against the hub's admin API. */
export async function runFlTasksCommand(
  sub: string,
  positionals: string[],
  flags: ConfigObject,
): Promise<void> {
  const hub = endpoint(flags);
  if (sub === 'start') {
    // biome-ignore lint/suspicious/noExplicitAny: the hub's JSON
    const task = await hubRequest<any>(hub, 'POST', '/v1/federated/tasks', taskRequestFromFlags(flags));
    if (flags.json === true) console.log(JSON.stringify(task, null, 2));
    else console.log(`task ${task.id} started (${task.spec.strategy}, ${task.spec.rounds} rounds)`);
    return;
  }
  const [id] = positionals;
  if (sub === 'stop') {
    if (id === undefined) throw new CliError('fl stop needs a task id', EXIT.USAGE);
    // biome-ignore lint/suspicious/noExplicitAny: the hub's JSON
    const task = await hubRequest<any>(hub, 'POST', `/v1/federated/tasks/${encodeURIComponent(id)}/stop`);
    console.log(`task ${task.id} ${task.status}`);
    return;
  }
  if (sub === 'status') {
    if (id === undefined) {
      // biome-ignore lint/suspicious/noExplicitAny: the hub's JSON
      const { tasks } = await hubRequest<{ tasks: any[] }>(hub, 'GET', '/v1/federated/tasks');
      if (flags.json === true) return console.log(JSON.stringify(tasks, null, 2));
      console.log(
        table(
          ['ID', 'STATUS', 'STRATEGY', 'MODEL', 'ROUND', 'BEST'],
          tasks.map((t) => [
            t.id,
            t.status,
            t.spec.strategy,
            `${t.spec.model.name}@${t.spec.model.version}`,
            `${t.round}/${t.spec.rounds}`,
            t.best ? `${pct(t.best.accuracy)} (r${t.best.round})` : '–',
          ]),
        ),
      );
      return;
    }
    const path = `/v1/federated/tasks/${encodeURIComponent(id)}`;
    // biome-ignore lint/suspicious/noExplicitAny: the hub's JSON
    const task = await hubRequest<any>(hub, 'GET', path);
    // biome-ignore lint/suspicious/noExplicitAny: the hub's JSON
    const { rounds } = await hubRequest<{ rounds: any[] }>(hub, 'GET', `${path}/rounds`);
    if (flags.json === true) return console.log(JSON.stringify({ ...task, rounds }, null, 2));
    console.log(terminalSafe(formatRounds(task, rounds)));
    return;
  }
  throw new CliError(`fl: unknown subcommand ${JSON.stringify(sub)}\n\n${FL_TASKS_HELP}`, EXIT.USAGE);
}
