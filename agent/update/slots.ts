import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

/** The two install slots of the launcher: one runs, the other receives the next release. */
export const SLOT_NAMES = ['a', 'b'] as const;
export type SlotName = (typeof SLOT_NAMES)[number];
const SlotNameSchema = z.enum(SLOT_NAMES);

/** A switch not yet confirmed healthy: reverted unless confirmed by `deadline` (wall clock, ms). */
const TrialSchema = z.strictObject({
  slot: SlotNameSchema,
  version: z.string().min(1).max(64),
  /** The slot (and version) to go back to. */
  previous: SlotNameSchema,
  startedAt: z.number().int().nonnegative(),
  deadline: z.number().int().nonnegative(),
  /** The rollout that asked for this release, if any (a failure names it). */
  rollout: z.string().max(128).optional(),
});

/** Why the last trial was reverted, for the old agent to report once it is back. */
const FailureSchema = z.strictObject({
  version: z.string().max(64),
  reason: z.string().max(1024),
  at: z.number().int().nonnegative(),
  rollout: z.string().max(128).optional(),
});

/** `slots.json`: the one file that says which slot runs. Replaced atomically (write, fsync, rename). */
export const SlotStateSchema = z.strictObject({
  current: SlotNameSchema,
  versions: z.partialRecord(SlotNameSchema, z.string().min(1).max(64)),
  trial: TrialSchema.optional(),
  lastFailure: FailureSchema.optional(),
  /**
   * The slot that runs the installed package itself (no directory: `outpost agent install`'s
   * release), until a bundle is installed into it.
   */
  base: SlotNameSchema.optional(),
});
export type SlotState = z.infer<typeof SlotStateSchema>;
export type SlotFailure = z.infer<typeof FailureSchema>;

/**
 * The launcher's slots under `root`: `root/a`, `root/b` and `root/slots.json`. Every change
 * is one atomic replacement of `slots.json`, so a kill at any point leaves either the state
 * before or the state after: one consistent version to start.
 */
export class Slots {
  readonly #file: string;

  constructor(readonly root: string) {
    this.#file = join(root, 'slots.json');
  }

  /**
   * Creates the layout with `version` installed (already) in slot `a`, unless it exists. With
   * `base`, slot `a` is the installed package itself (no directory); an existing layout whose
   * base slot names another version (the package was upgraded in place) is corrected.
   */
  init(version: string, options: { base?: boolean } = {}): SlotState {
    mkdirSync(this.root, { recursive: true });
    let state: SlotState;
    try {
      state = this.load();
    } catch {
      state = { current: 'a', versions: { a: version }, ...(options.base ? { base: 'a' as const } : {}) };
      this.#write(state);
      return state;
    }
    if (options.base && state.base !== undefined && state.versions[state.base] !== version && !state.trial) {
      state = { ...state, versions: { ...state.versions, [state.base]: version } };
      this.#write(state);
    }
    return state;
  }

  /** The state on disk; throws when it is missing or invalid. */
  load(): SlotState {
    return SlotStateSchema.parse(JSON.parse(readFileSync(this.#file, 'utf8')));
  }

  /** The directory of a slot. */
  dir(slot: SlotName): string {
    return join(this.root, slot);
  }

  /** The slot that does not run: where the next release is downloaded and verified. */
  inactive(state = this.load()): SlotName {
    return state.current === 'a' ? 'b' : 'a';
  }

  /**
   * Switches to the inactive slot, now holding `version`, on trial until `now + confirmMs`:
   * the next start runs it, and it is reverted unless confirmed healthy by then.
   */
  beginTrial(
    version: string,
    confirmMs: number,
    now: number,
    options: { rollout?: string | undefined; keepBase?: boolean } = {},
  ): SlotState {
    const state = this.load();
    if (state.trial) throw new Error(`a trial of ${state.trial.version} is already running`);
    const slot = this.inactive(state);
    // A bundle installed into the base slot replaces the installed package there; switching
    // back to the base release (`keepBase`) keeps it.
    const base = state.base === slot && !options.keepBase ? undefined : state.base;
    const next: SlotState = {
      current: slot,
      versions: { ...state.versions, [slot]: version },
      trial: {
        slot,
        version,
        previous: state.current,
        startedAt: now,
        deadline: now + confirmMs,
        ...(options.rollout !== undefined ? { rollout: options.rollout } : {}),
      },
      ...(state.lastFailure ? { lastFailure: state.lastFailure } : {}),
      ...(base !== undefined ? { base } : {}),
    };
    this.#write(next);
    return next;
  }

  /** The trial's agent confirmed its health: its slot stays current. */
  confirm(): SlotState {
    const { trial: _confirmed, lastFailure: _old, ...rest } = this.load();
    this.#write(rest);
    return rest;
  }

  /** Goes back to the trial's previous slot and records why. A no-op without a trial. */
  revert(reason: string, now: number): SlotState {
    const state = this.load();
    if (!state.trial) return state;
    const next: SlotState = {
      current: state.trial.previous,
      versions: state.versions,
      lastFailure: {
        version: state.trial.version,
        reason: reason.slice(0, 1024),
        at: now,
        ...(state.trial.rollout !== undefined ? { rollout: state.trial.rollout } : {}),
      },
      ...(state.base !== undefined ? { base: state.base } : {}),
    };
    this.#write(next);
    return next;
  }

  /**
   * Whether `slot` holds `version` whole: the installed package for the base slot, else a
   * directory whose `bundle.json` (written last, inside the atomic rename) names the version
   * that the state records. A slot being replaced, or filled but not yet switched to, does not.
   */
  holds(slot: SlotName, version: string, state = this.load()): boolean {
    if (state.versions[slot] !== version) return false;
    if (state.base === slot) return true;
    const file = join(this.dir(slot), 'bundle.json');
    if (!existsSync(file)) return false;
    try {
      return (JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown }).version === version;
    } catch {
      return false;
    }
  }

  #write(state: SlotState): void {
    const tmp = `${this.#file}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(SlotStateSchema.parse(state))}\n`);
    const fd = openSync(tmp, 'r');
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, this.#file);
    const dir = openSync(this.root, 'r');
    fsyncSync(dir);
    closeSync(dir);
  }
}
