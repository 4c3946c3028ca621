/**
 * Runs `close` once on SIGINT or SIGTERM, then exits 0 (or 1 when closing fails). A second
 * signal while closing exits at once.
 */
export function closeOnSignals(close: () => Promise<void>, onError: (err: unknown) => void): void {
  let closing = false;
  const handler = () => {
    if (closing) process.exit(1);
    closing = true;
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        onError(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

/** Tells a parent process that spawned us with an IPC channel that we are ready. */
export function announceReady(message: Record<string, unknown>): void {
  process.send?.({ type: 'ready', ...message });
}
