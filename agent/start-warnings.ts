import type { AgentConfig } from './config.js';
import { trustedKeysOf } from './delivery/config.js';

/**
 * Problems of a configuration that starts but cannot do its job, logged at warn on start and
 * listed in the status (`warnings`) so that an operator sees them without reading logs.
 */
export function configWarnings(cfg: AgentConfig): string[] {
  const warnings: string[] = [];
  let keys = 0;
  try {
    keys = trustedKeysOf(cfg.delivery).length;
  } catch {
    // An unreadable key file fails delivery set-up, which names the file.
  }
  if (keys === 0)
    warnings.push(
      'cannot verify model artifacts: no trusted hub keys (delivery.trustedKeys or delivery.trustedKeyFiles; `outpost agent join TOKEN` sets them), so every pushed model is refused with PROTO_UNTRUSTED_KEY',
    );
  return warnings;
}
