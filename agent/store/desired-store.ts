import type Database from 'better-sqlite3';
import {
  type DesiredOutcome,
  DesiredOutcomeSchema,
  type DesiredState,
  DesiredStateSchema,
} from '../../shared/index.js';

/** What the store remembers of the desired state. */
export interface DesiredRecord {
  /** Highest rev applied; 0 before any. */
  appliedRev: number;
  /** The applied document, if any. */
  doc: DesiredState | undefined;
  /** Outcome of the most recent desired document received, if any. */
  outcome: DesiredOutcome | undefined;
}

interface Row {
  applied_rev: number;
  doc: string | null;
  outcome: string | null;
}

function parseJson<T>(
  text: string | null,
  parse: (v: unknown) => { success: boolean; data?: T },
): T | undefined {
  if (text === null) return undefined;
  try {
    const parsed = parse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Persistence of the desired state: last applied rev and document, and the latest outcome. */
export class DesiredStore {
  readonly #select: Database.Statement<[], Row>;
  readonly #saveApplied: Database.Statement<[number, string, string, number]>;
  readonly #saveOutcome: Database.Statement<[string, number]>;

  constructor(db: Database.Database) {
    this.#select = db.prepare<[], Row>('SELECT applied_rev, doc, outcome FROM desired_state WHERE id = 1');
    // One statement, hence one transaction: rev, document and outcome change together.
    this.#saveApplied = db.prepare(
      'UPDATE desired_state SET applied_rev = ?, doc = ?, outcome = ?, updated_at = ? WHERE id = 1',
    );
    this.#saveOutcome = db.prepare('UPDATE desired_state SET outcome = ?, updated_at = ? WHERE id = 1');
  }

  /** The stored record; a document or outcome that no longer parses reads as absent. */
  load(): DesiredRecord {
    const row = this.#select.get();
    if (!row) return { appliedRev: 0, doc: undefined, outcome: undefined };
    return {
      appliedRev: row.applied_rev,
      doc: parseJson(row.doc, (v) => DesiredStateSchema.safeParse(v)),
      outcome: parseJson(row.outcome, (v) => DesiredOutcomeSchema.safeParse(v)),
    };
  }

  /** Records `doc` as applied (its rev becomes the applied rev) together with its outcome. */
  saveApplied(doc: DesiredState, outcome: DesiredOutcome): void {
    this.#saveApplied.run(doc.rev, JSON.stringify(doc), JSON.stringify(outcome), outcome.at);
  }

  /** Records the outcome of a document that was not applied (stale or rejected). */
  saveOutcome(outcome: DesiredOutcome): void {
    this.#saveOutcome.run(JSON.stringify(outcome), outcome.at);
  }
}
