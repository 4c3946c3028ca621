import { agentBundleArea } from './agent-bundles.js';
import { brokerCredentialArea } from './broker-credentials.js';
import { desiredArea } from './desired.js';
import { deviceArea } from './devices.js';
import { eventRetentionArea } from './event-retention.js';
import { eventArea } from './events.js';
import { federatedArea } from './federated.js';
import { flRetentionArea } from './federated-retention.js';
import { rateBucketArea } from './rate-buckets.js';
import { registryArea } from './registry.js';
import { rescoreArea } from './rescores.js';
import { rolloutArea } from './rollouts.js';
import { secAggArea } from './secagg.js';
import { skipArea } from './skips.js';
import type { SqlDatabase } from './sql/seam.js';
import { telemetryArea } from './telemetry.js';
import type { HubStore } from './types.js';

/**
 * The one way a hub store is assembled, whatever the backend: every area is a function of
 * the dialect seam returning its methods, written once, and the store is their union.
 */
export function assembleHubStore(db: SqlDatabase): HubStore {
  return {
    kind: db.dialect.name,
    ...deviceArea(db),
    ...desiredArea(db),
    ...eventArea(db),
    ...eventRetentionArea(db),
    ...skipArea(db),
    ...rescoreArea(db),
    ...registryArea(db),
    ...agentBundleArea(db),
    ...brokerCredentialArea(db),
    ...rolloutArea(db),
    ...federatedArea(db),
    ...flRetentionArea(db),
    ...telemetryArea(db),
    ...secAggArea(db),
    ...rateBucketArea(db),
    close: () => db.close(),
  };
}
