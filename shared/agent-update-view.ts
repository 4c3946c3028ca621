/**
 * A device's agent release and where its update stands, in a few words, from its reported
 * state (read loosely: a report of any release): what `devices list`, `devices show` and the
 * dashboard show.
 *
 * - `0.2.1`: runs that release, nothing else asked for;
 * - `0.1.0 → 0.2.1 43%`, `0.1.0 → 0.2.1 installing`: an update under way;
 * - `0.2.1 on trial`: the new release runs, not yet confirmed healthy;
 * - `0.1.0 (0.2.0 reverted)`: the launcher reverted the desired release;
 * - `0.1.0 (0.2.1 refused AGENT_BUNDLE_PLATFORM)`: the desired release cannot be installed;
 * - `0.1.0 (by image)`: a container, updated by a new image.
 */
export function agentUpdateCell(reported: unknown): string {
  const r = (typeof reported === 'object' && reported !== null ? reported : {}) as {
    agentVersion?: unknown;
    update?: {
      managedBy?: unknown;
      state?: unknown;
      desired?: unknown;
      downloading?: { version?: unknown; bytes?: unknown; total?: unknown };
      failed?: { version?: unknown };
      refused?: { version?: unknown; code?: unknown };
    };
  };
  const version = typeof r.agentVersion === 'string' ? r.agentVersion : '';
  const u = r.update;
  if (u === undefined || version === '') return version;
  const desired = typeof u.desired === 'string' ? u.desired : undefined;
  switch (u.state) {
    case 'downloading': {
      const d = u.downloading;
      const total = Number(d?.total ?? 0);
      const pct = total > 0 ? Math.min(100, Math.floor((100 * Number(d?.bytes ?? 0)) / total)) : 0;
      return `${version} → ${String(d?.version ?? desired ?? '?')} ${pct}%`;
    }
    case 'installing':
      return `${version} → ${desired ?? '?'} installing`;
    case 'trial':
      return `${version} on trial`;
    case 'failed':
      return `${version} (${String(u.failed?.version ?? desired ?? '?')} reverted)`;
    case 'refused': {
      const refused = u.refused;
      if (u.managedBy === 'image') return `${version} (by image)`;
      return `${version} (${String(refused?.version ?? desired ?? '?')} refused ${String(refused?.code ?? '')})`.replace(
        / \)$/,
        ')',
      );
    }
    default:
      if (desired !== undefined && desired !== version && u.failed?.version === desired)
        return `${version} (${desired} reverted)`;
      return version;
  }
}
