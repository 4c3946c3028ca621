import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { formatIssues, OutpostError } from '../../shared/index.js';
import type { HubBus } from '../bus/types.js';
import type { HubFederated } from '../federated/setup.js';
import type { HubModels } from '../inference/hub-models.js';
import type { HubDelivery } from '../registry/setup.js';
import type { RolloutService } from '../rollouts/service.js';
import type { FailureGuard } from '../security/failure-guard.js';
import type { HubStats } from '../stats.js';
import type { HubStore } from '../store/types.js';

/** Where devices reach the hub; `public*` are what remote devices use (config `public`). */
export interface HubEndpoints {
  mqttUrl: string;
  wsUrl: string;
  publicMqttUrl: string;
  publicHttpUrl: string;
  /** PEM CA that verifies the hub's TLS certificate; absent without TLS. */
  caPem?: string;
  /** The `link.qos` join tokens give agents: 0 on a NATS cluster, absent otherwise. */
  linkQos?: 0;
}

/** What the HTTP routes need from the hub. */
export interface HttpDeps {
  store: HubStore;
  bus: HubBus;
  logger: Logger;
  adminToken: string;
  bodyLimitBytes: number;
  /** URLs devices connect to, filled in once the listeners are up. */
  endpoints: () => HubEndpoints;
  stats: () => HubStats;
  /** Hub wall clock, ms. */
  now: () => number;
  /** Models served by `POST /v1/infer/:name`; none when absent. */
  models?: HubModels;
  /** Registry, artifacts and desired-state service; their routes are absent without it. */
  delivery?: HubDelivery;
  /** Rollouts; their routes are absent without it. */
  rollouts?: RolloutService;
  /** Federated learning; its routes are absent without it. */
  federated?: HubFederated;
  /** Called when a device is disabled, enabled, removed or given a new secret (rewrites broker auth). */
  onCredentialsChanged?: () => Promise<void>;
  /** Connections that took over a live session of this client id (embedded broker; else 0). */
  clientIdConflicts?: (deviceId: string) => number;
  /** Cuts a device's live connection (embedded broker: closes it; external: takes its client id over). */
  disconnectDevice?: (deviceId: string) => void | Promise<void>;
  /** Bounds failed device Basic credentials per source and overall; unbounded when absent. */
  authFailures?: FailureGuard;
  /** The hub's broker user name: it and ids like it are refused at enrollment. */
  hubBrokerUsername: string;
  /** The broker is a NATS cluster: ids with a `.` are refused at enrollment too. */
  natsBroker?: boolean;
  /** Called after each enrollment (rewrites an external broker's password file). */
  onEnrolled?: (deviceId: string) => Promise<void>;
  /** Installs hooks ahead of authentication (the rate limit). */
  firstHooks?: (app: FastifyInstance) => void;
}

/**
 * Validates `value` with `schema`; on failure throws `HUB_BAD_REQUEST` whose message lists
 * every `path: problem` (also in `details.problems`).
 */
export function parseRequest<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const problems = formatIssues(parsed.error);
  throw new OutpostError('HUB_BAD_REQUEST', `invalid ${what}: ${problems.join('; ')}`, {
    details: { problems },
  });
}
