import type { Logger } from 'pino';
import type { LogLevel } from '../shared/index.js';

/**
 * The agent's loggers: one root and a child per component (docs/architecture.md "Conventions"). pino
 * children keep their own level, so a run-time level change (desired `logLevel`) is applied
 * to the root and to every child made here.
 */
export class ComponentLoggers {
  readonly root: Logger;
  readonly #children: Logger[] = [];

  constructor(root: Logger) {
    this.root = root;
  }

  /** A child logger tagged `{ component }`, whose level follows {@link setLevel}. */
  child(component: string): Logger {
    const child = this.root.child({ component });
    this.#children.push(child);
    return child;
  }

  /** Sets the level of the root and of every component logger. */
  setLevel(level: LogLevel): void {
    this.root.level = level;
    for (const child of this.#children) child.level = level;
  }

  /** The level in force. */
  get level(): string {
    return this.root.level;
  }
}
