import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import {
  type AgentBundleManifest,
  type AgentUpdateReport,
  type BundlePlatform,
  type DesiredAgent,
  formatPlatform,
  OutpostError,
  platformMismatch,
  type SignedAgentBundle,
  verifyAgentBundle,
} from '../../shared/index.js';
import { assertFreeDisk, compareSemver } from '../delivery/checks.js';
import type { DeliveryConfig } from '../delivery/config.js';
import { downloadArtifact } from '../delivery/download.js';
import type { DeliveryStore } from '../store/delivery-store.js';
import { currentPlatform, verifyBundleFile } from './bundle.js';
import { CONFIRMED_MESSAGE, INSTALL_MESSAGE, REFUSED_MESSAGE, SWITCH_MESSAGE } from './launcher.js';

/** The directory under the data dir holding the launcher's slots, downloads and store backup. */
export const UPDATE_DIR = 'update';
/** Where bundles are downloaded to, under the update directory. */
export const INCOMING_DIR = 'incoming';
/** The store backup taken before a new release first starts, under the update directory. */
export const STORE_BACKUP_FILE = 'store-backup.db';

/** The update directory of a data dir (the launcher's {@link Slots} root). */
export function updateDir(dataDir: string): string {
  return join(dataDir, UPDATE_DIR);
}

/** How long an agent waits for the launcher to act on its request before asking again, ms. */
const RESEND_MS = 60_000;

/** The name download progress is recorded under (the model delivery's table). */
const DOWNLOAD_NAME = '@agent';

/** What the launcher passed in the environment (agent/update/launcher.ts `LAUNCHER_ENV`). */
export interface LauncherContext {
  slot: string;
  /** The last release the launcher reverted. */
  failure?: { version: string; reason: string; at: number; rollout?: string } | undefined;
  /** This release runs on trial since `startedAt`, switched from `from`. */
  trial?: { version: string; from: string; startedAt: number; deadline: number } | undefined;
  crashes: number;
  /** IPC to the launcher. */
  send(message: object): void;
  /** Subscribes to the launcher's messages. */
  onMessage(handler: (message: unknown) => void): void;
}

/** What {@link AgentUpdater} needs. */
export interface AgentUpdaterOptions {
  /** How this agent is run: by the launcher (with its context), in a container image, or directly. */
  managedBy: 'launcher' | 'image' | 'none';
  launcher?: LauncherContext | undefined;
  /** The release this agent is. */
  version: string;
  dataDir: string;
  hubHttpUrl: string | undefined;
  authorization: string;
  config: DeliveryConfig;
  store: DeliveryStore;
  trustedKeys: readonly string[];
  /** Error-or-worse log lines since start. */
  errors(): number;
  /** False while the outbox has not drained since start (health). */
  outboxDraining(): boolean;
  /** The reported state changed. */
  onChange(): void;
  log: Logger;
  now: () => number;
  fetch?: ((url: string, init: RequestInit) => Promise<Response>) | undefined;
  platform?: BundlePlatform;
}

interface Work {
  entry: DesiredAgent;
  key: string;
  abort: AbortController;
}

/**
 * The agent's side of over-the-air updates (docs/agent-updates.md): reconciles the desired
 * `agent` section. For a release other than its own it picks the bundle made for this
 * device's platform, verifies the signed manifest, downloads the bundle (resuming, with the
 * model downloader) into `DATA_DIR/update/incoming`, verifies it again (size, sha256,
 * platform), and asks the launcher to install it; the launcher then stops this agent. A
 * release without bundles is one the other slot holds (a rollback): the launcher switches to
 * it. Refusals (no launcher, wrong platform, downgrade, bad signature) and the launcher's
 * reverts are reported in the reported state's `update` section; a reverted release is not
 * tried again until a new rollout asks for it.
 */
export class AgentUpdater {
  readonly #o: AgentUpdaterOptions;
  readonly #platform: BundlePlatform;
  #work: Work | undefined;
  /** The desired section last found to need nothing (its key), so a repeat reports nothing. */
  #settled: string | undefined;
  #state: string;
  #desired: string | undefined;
  #downloading: { version: string; bytes: number; total: number } | undefined;
  #refused: AgentUpdateReport['refused'];
  #trial: AgentUpdateReport['trial'];
  #switched: AgentUpdateReport['switched'];
  #closed = false;

  constructor(options: AgentUpdaterOptions) {
    this.#o = options;
    this.#platform = options.platform ?? currentPlatform();
    const trial = options.launcher?.trial;
    this.#trial =
      trial?.version === options.version ? { from: trial.from, deadline: trial.deadline } : undefined;
    this.#switched = this.#trial
      ? { from: trial?.from ?? 'unknown', at: trial?.startedAt ?? options.now(), backOnlineMs: null }
      : undefined;
    this.#state = this.#trial ? 'trial' : 'current';
    options.launcher?.onMessage((message) => this.#onLauncher(message));
  }

  /** The first connection to the hub since start: how long the switch took, once. */
  onConnect(): void {
    if (this.#switched && this.#switched.backOnlineMs === null) {
      this.#switched = { ...this.#switched, backOnlineMs: Math.max(0, this.#o.now() - this.#switched.at) };
      this.#o.onChange();
    }
  }

  /** Records the refusal of a desired `agent` section that failed its schema (e.g. unsigned). */
  refuse(version: string, error: OutpostError): void {
    this.#refuse(version, error.code, error.message);
    this.#o.onChange();
  }

  /** Follows the desired `agent` section (undefined: none, nothing to do). */
  reconcile(entry: DesiredAgent | undefined): void {
    if (this.#closed) return;
    const key = entry === undefined ? '' : JSON.stringify(entry);
    if (this.#work?.key === key) return;
    this.#work?.abort.abort(new Error('superseded by a newer desired agent section'));
    this.#work = undefined;
    this.#desired = entry?.version;
    this.#downloading = undefined;
    if (entry === undefined || entry.version === this.#o.version) {
      // The same section again (every desired document repeats it): nothing changed to report.
      if (this.#settled === key) return;
      this.#settled = key;
      if (this.#state !== 'trial') this.#state = 'current';
      // Running the desired release: an older refusal no longer applies (without a desired
      // release the last refusal stays reported).
      if (entry !== undefined) this.#refused = undefined;
      void this.#cleanIncoming();
      this.#o.onChange();
      return;
    }
    this.#settled = undefined;
    const work: Work = { entry, key, abort: new AbortController() };
    this.#work = work;
    void this.#run(work);
  }

  async #run(work: Work): Promise<void> {
    let delay = this.#o.config.retryMinMs;
    for (;;) {
      try {
        if ((await this.#apply(work)) !== 'asked') return;
        // The launcher stops this agent to switch; if it has not after a while (it was busy),
        // ask again.
        await new Promise((resolve) => setTimeout(resolve, RESEND_MS).unref());
        if (work.abort.signal.aborted || this.#closed) return;
      } catch (err) {
        if (work.abort.signal.aborted || this.#closed) return;
        const error =
          err instanceof OutpostError ? err : new OutpostError('AGENT_INTERNAL', (err as Error).message);
        const retry = error.code === 'AGENT_DOWNLOAD_FAILED' || error.code === 'AGENT_DISK_FULL';
        this.#downloading = undefined;
        if (!retry) this.#refuse(work.entry.version, error.code, error.message);
        this.#o.log.warn(
          {
            version: work.entry.version,
            code: error.code,
            err: error.message,
            retryInMs: retry ? delay : null,
          },
          retry ? 'agent download failed; retrying' : 'agent release refused',
        );
        this.#o.onChange();
        if (!retry) return;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * delay));
        delay = Math.min(delay * 2, this.#o.config.retryMaxMs);
        if (work.abort.signal.aborted || this.#closed) return;
      }
    }
  }

  #refuse(version: string, code: string, reason: string): void {
    this.#state = 'refused';
    this.#refused = {
      version: version.slice(0, 64),
      code: code.slice(0, 64),
      reason: reason.slice(0, 1024),
      at: this.#o.now(),
    };
  }

  /** Does what `work` asks; `asked` once the launcher was asked to install or switch. */
  async #apply(work: Work): Promise<'asked' | 'done'> {
    const { entry } = work;
    const { launcher } = this.#o;
    if (this.#o.managedBy !== 'launcher' || launcher === undefined) {
      throw new OutpostError(
        'AGENT_UPDATE_UNMANAGED',
        this.#o.managedBy === 'image'
          ? `runs in a container: update the image to ${entry.version} instead`
          : `not run by the launcher (outpost agent launch): it cannot install ${entry.version} itself`,
      );
    }
    const failed = launcher.failure;
    if (failed?.version === entry.version && failed.rollout === entry.rollout) {
      // Reverted once for this rollout: stays on this release until another rollout asks.
      this.#state = 'failed';
      this.#o.onChange();
      return 'done';
    }
    if (compareSemver(entry.version, this.#o.version) < 0 && !entry.allowDowngrade) {
      throw new OutpostError(
        'AGENT_DOWNGRADE_REFUSED',
        `agent ${entry.version} is older than the running ${this.#o.version} and no rollback (allowDowngrade) allows it`,
      );
    }
    const signed = this.#bundleFor(entry);
    if (signed === undefined) {
      // No bundle: the release the other slot holds (a rollback).
      this.#state = 'installing';
      this.#o.onChange();
      launcher.send({ type: SWITCH_MESSAGE, version: entry.version, rollout: entry.rollout });
      this.#o.log.warn({ version: entry.version }, 'switching to the release of the other slot');
      return 'asked';
    }
    const manifest = this.#verify(entry, signed);
    const file = await this.#download(work, manifest);
    await verifyBundleFile(file, signed, this.#o.trustedKeys, this.#platform).catch(async (err: unknown) => {
      this.#o.store.dropDownload(manifest.sha256);
      await rm(file, { force: true });
      throw err;
    });
    if (work.abort.signal.aborted) return 'done';
    this.#state = 'installing';
    this.#downloading = undefined;
    this.#o.onChange();
    this.#o.log.warn(
      { version: manifest.version, sha256: manifest.sha256 },
      'agent release downloaded and verified; the launcher installs it and restarts the agent',
    );
    launcher.send({ type: INSTALL_MESSAGE, file, signed, rollout: entry.rollout });
    return 'asked';
  }

  /** The bundle of `entry` for this platform; undefined when it has none at all (a switch). */
  #bundleFor(entry: DesiredAgent): SignedAgentBundle | undefined {
    if (entry.bundles.length === 0) return undefined;
    const mine = entry.bundles.find(
      (b) => platformMismatch(b.manifest.platform, this.#platform) === undefined,
    );
    if (mine === undefined) {
      const offered = entry.bundles.map((b) => formatPlatform(b.manifest.platform)).join(', ');
      throw new OutpostError(
        'AGENT_BUNDLE_PLATFORM',
        `agent ${entry.version} has no bundle for this device's ${formatPlatform(this.#platform)} (offered: ${offered})`,
      );
    }
    return mine;
  }

  #verify(entry: DesiredAgent, signed: SignedAgentBundle): AgentBundleManifest {
    if (this.#o.trustedKeys.length === 0)
      throw new OutpostError(
        'PROTO_UNTRUSTED_KEY',
        'no trusted hub keys are configured (delivery.trustedKeys)',
      );
    const manifest = verifyAgentBundle(signed, this.#o.trustedKeys);
    if (manifest.version !== entry.version)
      throw new OutpostError(
        'AGENT_MANIFEST_MISMATCH',
        `a bundle manifest of agent ${manifest.version} was sent for ${entry.version}`,
      );
    return manifest;
  }

  async #download(work: Work, manifest: AgentBundleManifest): Promise<string> {
    const hubHttpUrl = this.#o.hubHttpUrl;
    if (hubHttpUrl === undefined)
      throw new OutpostError(
        'AGENT_CONFIG_INVALID',
        'no hub HTTP URL to download the agent bundle from (delivery.hubHttpUrl)',
      );
    const dir = join(updateDir(this.#o.dataDir), INCOMING_DIR);
    const file = join(dir, `${manifest.sha256}.tgz`);
    const staged = this.#o.store.download(manifest.sha256)?.bytes ?? 0;
    // Room for the rest of the download and for the unpacked slot (a few times the bundle).
    await assertFreeDisk(this.#o.dataDir, manifest.size - staged + 4 * manifest.size);
    this.#state = 'downloading';
    this.#downloading = { version: manifest.version, bytes: staged, total: manifest.size };
    this.#o.onChange();
    let lastReport = 0;
    const result = await downloadArtifact({
      url: new URL(`/v1/artifacts/${manifest.sha256}`, hubHttpUrl).toString(),
      authorization: this.#o.authorization,
      name: DOWNLOAD_NAME,
      version: manifest.version,
      sha256: manifest.sha256,
      size: manifest.size,
      file,
      store: this.#o.store,
      bandwidthBps: this.#o.config.bandwidthBytesPerS,
      checkpointBytes: this.#o.config.checkpointBytes,
      signal: work.abort.signal,
      now: this.#o.now,
      ...(this.#o.fetch ? { fetch: this.#o.fetch } : {}),
      onProgress: (bytes) => {
        this.#downloading = { version: manifest.version, bytes, total: manifest.size };
        const now = this.#o.now();
        if (now - lastReport >= 1000) {
          lastReport = now;
          this.#o.onChange();
        }
      },
    });
    this.#o.log.info(
      { version: manifest.version, resumedFrom: result.resumedFrom, fetched: result.fetched },
      'agent bundle downloaded',
    );
    return file;
  }

  #onLauncher(message: unknown): void {
    const m = message as { type?: unknown; version?: unknown; code?: unknown; reason?: unknown } | null;
    if (m?.type === CONFIRMED_MESSAGE) {
      this.#trial = undefined;
      if (this.#state === 'trial') this.#state = 'current';
      this.#o.log.info({ version: this.#o.version }, 'this release is confirmed healthy by the launcher');
      this.#o.onChange();
      return;
    }
    if (m?.type === REFUSED_MESSAGE) {
      this.#downloading = undefined;
      this.#work?.abort.abort(new Error('refused by the launcher'));
      this.#refuse(
        String(m.version ?? this.#desired ?? '?'),
        typeof m.code === 'string' ? m.code : 'AGENT_INTERNAL',
        `refused by the launcher: ${String(m.reason ?? 'no reason given')}`,
      );
      this.#o.onChange();
    }
  }

  /** Downloads no longer needed once this agent runs the desired release. */
  async #cleanIncoming(): Promise<void> {
    const dir = join(updateDir(this.#o.dataDir), INCOMING_DIR);
    let files: string[];
    try {
      files = await readdir(dir);
    } catch {
      return;
    }
    for (const f of files) {
      const sha = /^([0-9a-f]{64})\.tgz$/.exec(f)?.[1];
      if (sha !== undefined) this.#o.store.dropDownload(sha);
      await rm(join(dir, f), { force: true }).catch(() => undefined);
    }
  }

  /** The `update` section of the reported state. */
  report(): AgentUpdateReport {
    const launcher = this.#o.launcher;
    const failed = launcher?.failure;
    return {
      managedBy: this.#o.managedBy,
      ...(launcher ? { slot: launcher.slot } : {}),
      platform: this.#platform,
      state: this.#state,
      ...(this.#desired !== undefined ? { desired: this.#desired } : {}),
      ...(this.#downloading ? { downloading: { ...this.#downloading } } : {}),
      ...(this.#trial ? { trial: { ...this.#trial } } : {}),
      ...(this.#switched ? { switched: { ...this.#switched } } : {}),
      ...(failed
        ? {
            failed: {
              version: failed.version.slice(0, 64),
              reason: failed.reason.slice(0, 1024),
              at: failed.at,
              ...(failed.rollout !== undefined ? { rollout: failed.rollout } : {}),
            },
          }
        : {}),
      ...(this.#refused ? { refused: { ...this.#refused } } : {}),
      crashes: launcher?.crashes ?? 0,
      errors: this.#o.errors(),
      outboxDraining: this.#o.outboxDraining(),
    };
  }

  /** Stops a download in progress (its progress stays durable for the next start). */
  close(): void {
    this.#closed = true;
    this.#work?.abort.abort(new Error('agent closing'));
  }
}
