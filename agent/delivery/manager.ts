import type { Logger } from 'pino';
import {
  canonicalJson,
  type DesiredModel,
  ENGINE_RUNTIMES,
  type Manifest,
  type ModelDeliveryReport,
  OutpostError,
} from '../../shared/index.js';
import type { ResolvedProfile } from '../inference/profile.js';
import type { InferenceRuntime } from '../inference/runtime.js';
import type { DeliveryStore, Refusal } from '../store/delivery-store.js';
import { fetchAndInstall, type InstallContext } from './artifact-install.js';
import { compareSemver, rankVariants, verifiedManifests } from './checks.js';
import { collectOldVersions } from './collect.js';

/** What {@link ModelDelivery} needs. */
export interface ModelDeliveryOptions {
  install: Omit<InstallContext, 'hubHttpUrl'> & { hubHttpUrl: string | undefined };
  runtime: InferenceRuntime;
  profile: ResolvedProfile;
  store: DeliveryStore;
  trustedKeys: readonly string[];
  /** The reported state changed (throttled by the caller's reporter). */
  onChange(): void;
  log: Logger;
  now: () => number;
}

interface Worker {
  entry: DesiredModel;
  key: string;
  abort: AbortController;
  downloading?: { version: string; bytes: number; total: number };
}

/**
 * The agent's model delivery: reconciles the desired `models` section.
 * Each model has its own worker, so one failing model never blocks another; a new desired
 * entry aborts the model's older one. Per entry: verify every signed manifest, refuse a
 * version older than the active one unless `allowDowngrade`, switch at once to the warm
 * previous version when it is the one asked for, else download (resuming), verify and
 * install the variant the profile prefers (the next one when no engine admits it) and
 * activate it atomically through the runtime; then load the shadow version, if any. Every
 * refusal is kept (store) and reported with its code and reason; transient download errors
 * are retried with backoff.
 */
export class ModelDelivery {
  readonly #o: ModelDeliveryOptions;
  readonly #workers = new Map<string, Worker>();
  readonly #refusals: Map<string, Refusal>;
  #closed = false;

  constructor(options: ModelDeliveryOptions) {
    this.#o = options;
    this.#refusals = options.store.refusals();
  }

  /** Starts (or keeps) a worker per desired entry; entries absent from `models` are left running as they are. */
  reconcile(models: readonly DesiredModel[] | undefined): void {
    if (this.#closed) return;
    for (const entry of models ?? []) {
      const key = canonicalJson(entry);
      const current = this.#workers.get(entry.name);
      if (current?.key === key) continue;
      current?.abort.abort(new Error('superseded by a newer desired entry'));
      const worker: Worker = { entry, key, abort: new AbortController() };
      this.#workers.set(entry.name, worker);
      void this.#run(worker);
    }
  }

  /** Records refusals found before reconciling (entries that failed their schema). */
  refuse(name: string, version: string, error: OutpostError): void {
    this.#refuse(name, version, error);
    this.#o.onChange();
  }

  async #run(worker: Worker): Promise<void> {
    const { name } = worker.entry;
    let delay = this.#o.install.config.retryMinMs;
    for (;;) {
      try {
        await this.#apply(worker);
        if (this.#refusals.get(name)?.version !== undefined && !worker.abort.signal.aborted) {
          this.#refusals.delete(name);
          this.#o.store.setRefusal(name, undefined, this.#o.now());
          this.#o.onChange();
        }
        return;
      } catch (err) {
        if (worker.abort.signal.aborted || this.#closed) return;
        const error =
          err instanceof OutpostError ? err : new OutpostError('AGENT_INTERNAL', (err as Error).message);
        const retry = error.code === 'AGENT_DOWNLOAD_FAILED' || error.code === 'AGENT_DISK_FULL';
        if (error.code !== 'AGENT_DOWNLOAD_FAILED')
          this.#refuse(name, this.#failedVersion(worker, err), error);
        this.#o.log.warn(
          {
            model: name,
            version: worker.entry.version,
            code: error.code,
            err: error.message,
            retryInMs: retry ? delay : null,
          },
          retry ? 'model delivery failed; retrying' : 'model version refused',
        );
        this.#o.onChange();
        if (!retry) return;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * delay));
        delay = Math.min(delay * 2, this.#o.install.config.retryMaxMs);
        if (worker.abort.signal.aborted || this.#closed) return;
      } finally {
        worker.downloading = undefined;
      }
    }
  }

  #failedVersion(worker: Worker, err: unknown): string {
    return (err as { shadowVersion?: string }).shadowVersion ?? worker.entry.version;
  }

  #refuse(name: string, version: string, error: OutpostError): void {
    const refusal: Refusal = {
      version: version.slice(0, 64),
      code: error.code,
      reason: error.message.slice(0, 1024),
      at: this.#o.now(),
    };
    this.#refusals.set(name, refusal);
    this.#o.store.setRefusal(name, refusal, refusal.at);
  }

  async #apply(worker: Worker): Promise<void> {
    const { entry } = worker;
    const { runtime } = this.#o;
    const manifests = verifiedManifests(entry, this.#o.trustedKeys);
    const active = this.#o.install.models.active().find((a) => a.name === entry.name);
    const loaded = runtime.report().models.find((m) => m.name === entry.name && m.engine !== null);
    if (active && compareSemver(entry.version, active.version) < 0 && !entry.allowDowngrade) {
      throw new OutpostError(
        'AGENT_DOWNGRADE_REFUSED',
        `${entry.name}@${entry.version} is older than the active ${active.version} and no rollback (allowDowngrade) allows it`,
      );
    }
    if (!(active?.version === entry.version && loaded?.version === entry.version)) {
      if (runtime.previousOf(entry.name)?.version === entry.version) {
        await runtime.activate(entry.name, entry.version);
      } else {
        await this.#installAndActivate(worker, manifests);
      }
      this.#o.onChange();
    }
    await this.#applyShadow(worker);
    await collectOldVersions(
      entry.name,
      {
        active: entry.version,
        previous: runtime.previousOf(entry.name)?.version,
        shadow: entry.shadow?.version,
      },
      { models: this.#o.install.models, files: this.#o.install.files, log: this.#o.log },
    );
  }

  async #installAndActivate(worker: Worker, manifests: Manifest[]): Promise<void> {
    const { profile } = this.#o.profile;
    const runtimes = new Set(profile.engines.map((e) => ENGINE_RUNTIMES[e]));
    const candidates = rankVariants(manifests, profile.precision, runtimes);
    if (candidates.length === 0) {
      throw new OutpostError(
        'INFER_NO_ENGINE',
        `no variant of ${worker.entry.name}@${worker.entry.version} is in a format the profile's engines (${profile.engines.join(', ')}) read`,
      );
    }
    let last: unknown;
    for (const manifest of candidates) {
      await this.#install(worker, manifest);
      try {
        await this.#o.runtime.activate(manifest.name, manifest.version, manifest.precision);
        return;
      } catch (err) {
        last = err;
        this.#o.log.warn(
          {
            model: manifest.name,
            version: manifest.version,
            precision: manifest.precision,
            err: (err as Error).message,
          },
          'variant not admitted; trying the next one',
        );
      }
    }
    throw last;
  }

  async #install(worker: Worker, manifest: Manifest): Promise<void> {
    const hubHttpUrl = this.#o.install.hubHttpUrl;
    if (hubHttpUrl === undefined) {
      throw new OutpostError(
        'AGENT_CONFIG_INVALID',
        'no hub HTTP URL to download artifacts from (delivery.hubHttpUrl)',
      );
    }
    let lastReport = 0;
    await fetchAndInstall({ ...this.#o.install, hubHttpUrl }, manifest, {
      signal: worker.abort.signal,
      onProgress: (bytes) => {
        worker.downloading = { version: manifest.version, bytes, total: manifest.size };
        const now = this.#o.now();
        if (now - lastReport >= 1000) {
          lastReport = now;
          this.#o.log.info(
            { model: manifest.name, version: manifest.version, bytes, total: manifest.size },
            'downloading',
          );
          this.#o.onChange();
        }
      },
    });
  }

  async #applyShadow(worker: Worker): Promise<void> {
    const { entry } = worker;
    const { runtime } = this.#o;
    if (entry.shadow === undefined) {
      if (runtime.shadowOf(entry.name)) await runtime.clearShadow(entry.name);
      return;
    }
    const shadow = entry.shadow;
    try {
      const manifests = verifiedManifests({ name: entry.name, ...shadow }, this.#o.trustedKeys);
      if (runtime.shadowOf(entry.name)?.manifest.version !== shadow.version) {
        const { profile } = this.#o.profile;
        const runtimes = new Set(profile.engines.map((e) => ENGINE_RUNTIMES[e]));
        const [best] = rankVariants(manifests, profile.precision, runtimes);
        if (best === undefined)
          throw new OutpostError(
            'INFER_NO_ENGINE',
            `no variant of shadow ${shadow.version} fits the profile`,
          );
        await this.#install(worker, best);
        await runtime.loadShadow(entry.name, shadow.version);
        this.#o.onChange();
      }
    } catch (err) {
      throw Object.assign(err as Error, { shadowVersion: shadow.version });
    }
  }

  /** The `models` part of the reported state. */
  report(): ModelDeliveryReport[] {
    const names = new Set<string>([...this.#workers.keys(), ...this.#refusals.keys()]);
    const active = new Map(this.#o.install.models.active().map((a) => [a.name, a]));
    for (const name of active.keys()) names.add(name);
    return [...names].sort().map((name) => {
      const worker = this.#workers.get(name);
      const current = active.get(name);
      const previous = this.#o.runtime.previousOf(name);
      const shadow = worker?.entry.shadow;
      const refused = this.#refusals.get(name);
      const report: ModelDeliveryReport = { name };
      if (worker) report.desired = worker.entry.version;
      if (current) report.active = { version: current.version, precision: current.precision };
      if (previous) report.previous = previous.version;
      if (shadow) {
        report.shadow = {
          version: shadow.version,
          loaded: this.#o.runtime.shadowOf(name)?.manifest.version === shadow.version,
        };
      }
      if (worker?.downloading) report.downloading = { ...worker.downloading };
      if (refused) report.refused = { ...refused };
      return report;
    });
  }

  /** Aborts every download (progress stays durable for the next start). */
  async close(): Promise<void> {
    this.#closed = true;
    for (const worker of this.#workers.values()) worker.abort.abort(new Error('agent closing'));
  }
}
