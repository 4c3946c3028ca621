/**
 * TF.js as an engine runtime. TF.js keeps one global engine per process (its own design,
 * not ours) whose active backend is switched by `setBackend`; once a backend is initialised
 * the switch is synchronous, so {@link useBackend} switches and the caller then runs its
 * model synchronously in the same tick — no other model can change the backend in between.
 */
export type Tf = typeof import('@tensorflow/tfjs');

/** Imports TF.js (with its cpu backend) on first use. */
export async function importTf(): Promise<Tf> {
  return import('@tensorflow/tfjs');
}

/** Initialises (first time) and selects `backend`; throws with TF.js's reason when it cannot. */
export async function useBackend(tf: Tf, backend: string): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    if (tf.getBackend() === backend) return;
    const ok = await tf.setBackend(backend);
    if (!ok) throw new Error(`TF.js backend "${backend}" failed to initialise`);
  }
  throw new Error(`TF.js backend "${backend}" could not be selected (another backend kept winning)`);
}
