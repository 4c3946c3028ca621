import { BENCHMARKS } from './registry.js';

const USAGE = `npm run bench -- NAME [--quick]      run one benchmark (see --list)
npm run bench -- --list                list the benchmarks

Benchmarks print ratios against a baseline measured in the same run, on the same machine:
compare ratios across machines, not absolute figures.`;

/** `npm run bench -- NAME`: runs one benchmark from the registry and prints its report. */
async function main(argvIn: readonly string[]): Promise<number> {
  // `--NAME VALUE` / `--NAME=VALUE` pairs for a benchmark (e.g. `fleet --devices 5000`).
  const params: Record<string, string> = {};
  const argv: string[] = [];
  for (let i = 0; i < argvIn.length; i++) {
    const arg = argvIn[i] as string;
    const eq = /^--([a-z][a-z-]*)=(.*)$/.exec(arg);
    if (eq) params[eq[1] as string] = eq[2] as string;
    else if (
      /^--(devices|events|batch|broker|lane|nats-consumer-replicas|devices-per-process|partition|target|processes|data|resume)$/.test(
        arg,
      ) &&
      argvIn[i + 1] !== undefined
    ) {
      params[arg.slice(2)] = argvIn[++i] as string;
    } else argv.push(arg);
  }
  const flags = new Set(argv.filter((a) => a.startsWith('--')));
  const names = argv.filter((a) => !a.startsWith('--'));
  const unknown = [...flags].filter((f) => !['--quick', '--list', '--help'].includes(f));
  if (flags.has('--help') || (names.length === 0 && !flags.has('--list'))) {
    console.log(USAGE);
    return names.length === 0 && !flags.has('--help') ? 2 : 0;
  }
  if (flags.has('--list')) {
    for (const [name, load] of Object.entries(BENCHMARKS))
      console.log(`${name.padEnd(12)} ${(await load()).description}`);
    return 0;
  }
  if (unknown.length > 0 || names.length !== 1) {
    console.error(
      `bench: ${unknown.length ? `unknown flag ${unknown.join(', ')}` : 'give exactly one name'}\n${USAGE}`,
    );
    return 2;
  }
  const name = names[0] ?? '';
  const load = BENCHMARKS[name];
  if (!load) {
    console.error(
      `bench: no benchmark named ${JSON.stringify(name)}; known: ${Object.keys(BENCHMARKS).join(', ')}`,
    );
    return 2;
  }
  const bench = await load();
  const report = await bench.run({
    quick: flags.has('--quick'),
    params,
    progress: (line) => console.error(`  ${line}`),
  });
  console.log(report);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error('bench failed:', err);
    process.exitCode = 1;
  },
);
