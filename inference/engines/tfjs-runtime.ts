/**
 * TF.js as an engine runtime. TF.js keeps one global engine per process (its own design,
 * not ours) whose active backend is switched by `setBackend`. Once a backend is initialised
 * (see {@link initBackend}, at load) the switch completes synchronously, so a run calls
 * {@link selectBackend} and executes its model in the same synchronous block: no other
 * model can change the backend in between. Runs that must await (`executeAsync`, for graphs
 * with dynamic ops) hold {@link exclusiveRun} so that no other TF.js run starts meanwhile.
 */
export type Tf = typeof import('@tensorflow/tfjs');

/**
 * Imports TF.js (with its cpu backend) on first use, in production mode: TF.js's own console
 * banners and debug checks are off (the agent logs through pino only).
 */
export async function importTf(): Promise<Tf> {
  const tf = await import('@tensorflow/tfjs');
  if (!tf.env().getBool('PROD')) tf.env().set('PROD', true);
  return tf;
}

/** Initialises `backend` (once per process); throws with TF.js's reason when it cannot. */
export async function initBackend(tf: Tf, backend: string): Promise<void> {
  if (tf.findBackend(backend)) return;
  const previous = tf.getBackend();
  const ok = await tf.setBackend(backend);
  if (!ok) throw new Error(`TF.js backend "${backend}" failed to initialise`);
  if (previous && previous !== backend) selectBackend(tf, previous);
}

/** Makes the initialised `backend` the active one, synchronously. */
export function selectBackend(tf: Tf, backend: string): void {
  if (tf.getBackend() === backend) return;
  if (!tf.findBackend(backend)) throw new Error(`TF.js backend "${backend}" is not initialised`);
  // With the backend already in TF.js's registry, setBackend runs to completion before it returns.
  tf.setBackend(backend).catch(() => undefined);
  if (tf.getBackend() !== backend) throw new Error(`TF.js backend "${backend}" could not be selected`);
}

let tail: Promise<unknown> = Promise.resolve();

/**
 * Runs `fn` after every TF.js run queued before it has settled: TF.js's backend is process
 * state, so an awaiting run must not interleave with another model's run on another backend.
 */
export function exclusiveRun<T>(fn: () => Promise<T> | T): Promise<T> {
  const next = tail.then(fn, fn);
  tail = next.catch(() => undefined);
  return next;
}
