/** One Dockerfile instruction, continuation lines joined, `ARG` defaults substituted in FROM. */
export interface DockerInstruction {
  keyword: string;
  args: string;
}

/** A build stage: its FROM line, resolved base image, optional `AS` name and instructions. */
export interface DockerStage {
  from: string;
  image: string;
  name?: string;
  instructions: DockerInstruction[];
}

/**
 * Parses a Dockerfile into stages (enough for structural checks in tests: no heredocs,
 * `\` continuations, comments skipped, global `ARG NAME=default` substituted in FROM).
 */
export function parseDockerfile(text: string): { args: Record<string, string>; stages: DockerStage[] } {
  const logical = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const args: Record<string, string> = {};
  const stages: DockerStage[] = [];
  for (const line of logical) {
    const match = /^(\S+)\s+(.*)$/.exec(line);
    if (!match) throw new Error(`Dockerfile line without arguments: ${line}`);
    const keyword = (match[1] as string).toUpperCase();
    const rest = (match[2] as string).replace(/\s+/g, ' ');
    if (keyword === 'ARG' && stages.length === 0) {
      const [name, value = ''] = rest.split('=');
      args[name as string] = value;
      continue;
    }
    if (keyword === 'FROM') {
      const [from = '', as, name] = rest.split(' ');
      const image = from.replace(/\$\{(\w+)\}/g, (_, n: string) => {
        const value = args[n];
        if (value === undefined) throw new Error(`FROM uses undeclared ARG ${n}`);
        return value;
      });
      stages.push({ from, image, ...(as?.toUpperCase() === 'AS' && name ? { name } : {}), instructions: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) throw new Error(`${keyword} before FROM`);
    stage.instructions.push({ keyword, args: rest });
  }
  return { args, stages };
}
