/** The part of the agent's `GET /v1/status` the demo reads. */
export interface AgentStatusView {
  deviceId: string;
  link: { connected: boolean };
  outbox: Record<string, { pending: number; enqueued: number; acked: number }>;
}

/** Reads an agent's local status. */
export async function agentStatus(apiUrl: string): Promise<AgentStatusView> {
  const res = await fetch(new URL('/v1/status', apiUrl));
  if (!res.ok) throw new Error(`agent status answered ${res.status}`);
  return (await res.json()) as AgentStatusView;
}

/** Outcome of posting a run of events to an agent's local API. */
export interface PostOutcome {
  /** Event numbers the agent accepted (committed durably before answering 202). */
  accepted: number[];
  /** Event numbers whose request failed (for instance because the agent was killed). */
  refused: number[];
}

/**
 * Posts events `first … first+count-1` to an agent, `concurrency` at a time, as an
 * application on the device would. `onAccepted` runs after each accepted event and may
 * return true to stop issuing new requests (in-flight ones still finish or fail).
 */
export async function postEvents(
  apiUrl: string,
  deviceId: string,
  first: number,
  count: number,
  {
    concurrency = 8,
    onAccepted,
  }: { concurrency?: number; onAccepted?: (acceptedSoFar: number) => boolean } = {},
): Promise<PostOutcome> {
  const outcome: PostOutcome = { accepted: [], refused: [] };
  let next = first;
  let stop = false;
  const end = first + count;
  const worker = async () => {
    while (!stop && next < end) {
      const n = next++;
      try {
        const res = await fetch(new URL('/v1/events', apiUrl), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            type: 'demo.reading',
            lane: 'telemetry',
            body: { uid: `${deviceId}/${n}`, n, celsius: 20 + Math.sin(n / 10) * 3 },
          }),
        });
        await res.arrayBuffer();
        if (res.status !== 202) throw new Error(`agent answered ${res.status}`);
        outcome.accepted.push(n);
        if (onAccepted?.(outcome.accepted.length)) stop = true;
      } catch {
        outcome.refused.push(n);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return outcome;
}
