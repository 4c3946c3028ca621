import { importTf, initBackend, selectBackend, type Tf } from '../../inference/engines/tfjs-runtime.js';

export type { Tf };

/** A TF.js backend the trainer runs on. */
export type TrainBackend = 'wasm' | 'cpu';

/**
 * TF.js with `backend` initialised: `wasm` where
 * `@tensorflow/tfjs-backend-wasm` loads, else `cpu` (the reason is returned so the caller
 * can warn). `tfjs-node` is never required. TF.js keeps one global backend per process;
 * the trainer re-selects its backend before every step (see `inference/engines/tfjs-runtime.ts`).
 */
export async function loadTf(
  preferred: TrainBackend = 'wasm',
): Promise<{ tf: Tf; backend: TrainBackend; fallback?: string }> {
  const tf = await importTf();
  if (preferred === 'wasm') {
    try {
      await import('@tensorflow/tfjs-backend-wasm');
      await initBackend(tf, 'wasm');
      return { tf, backend: 'wasm' };
    } catch (err) {
      await initBackend(tf, 'cpu');
      return { tf, backend: 'cpu', fallback: `wasm backend unavailable: ${(err as Error).message}` };
    }
  }
  await initBackend(tf, 'cpu');
  return { tf, backend: 'cpu' };
}

export { selectBackend };
