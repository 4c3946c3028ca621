/**
 * Resolves like `promise`, or with `undefined` once `ms` milliseconds pass first (the
 * promise is left to settle on its own). For bounded waits on shutdown steps.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
