/** Exit codes of the `outpost` command, documented in the README (Commands). */
export const EXIT = {
  /** Success. */
  OK: 0,
  /** The work failed (a demo invariant broke, a process died, a request was refused). */
  FAILED: 1,
  /** Bad usage or bad configuration: every offending field is printed. */
  USAGE: 2,
  /** The hub or agent could not be reached. */
  UNREACHABLE: 3,
} as const;

/** An error that ends the command with a given exit code and a message for the terminal. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.FAILED) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}
