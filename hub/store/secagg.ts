import type { SecAggParams } from '../../federated/index.js';
import { OutpostError } from '../../shared/index.js';
import type { FlTask } from '../../shared/messages/federated.js';
import { ROUND_OPEN } from '../federated/round-state.js';
import { insertFlRound } from './federated.js';
import type {
  SecAggMessageKind,
  SecAggMessageRecord,
  SecAggPhase,
  SecAggRosterEntry,
  SecAggRoundRecord,
  SecAggStore,
} from './secagg-types.js';
import type { Sql } from './sql/seam.js';

interface RoundRow {
  task_id: string;
  round: number;
  phase: SecAggPhase;
  phase_at: number;
  params: string;
  max_examples: number;
  task: string;
  roster: string | null;
  submitted: string | null;
  survivors: string | null;
  seq: number;
}

interface MessageRow {
  task_id: string;
  round: number;
  device_id: string;
  kind: SecAggMessageKind;
  seq: number;
  body: string;
  at: number;
}

const json = <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T));

const toRound = (r: RoundRow): SecAggRoundRecord => ({
  taskId: r.task_id,
  round: r.round,
  phase: r.phase,
  phaseAt: r.phase_at,
  params: JSON.parse(r.params) as SecAggParams,
  maxExamples: r.max_examples,
  task: JSON.parse(r.task) as FlTask,
  roster: json<SecAggRosterEntry[]>(r.roster),
  submitted: json<string[]>(r.submitted),
  survivors: json<string[]>(r.survivors),
  seq: r.seq,
});

const toMessage = (r: MessageRow): SecAggMessageRecord => ({
  taskId: r.task_id,
  round: r.round,
  deviceId: r.device_id,
  kind: r.kind,
  seq: r.seq,
  body: JSON.parse(r.body) as unknown,
  at: r.at,
});

function lockRound(q: Sql, taskId: string, round: number): Promise<RoundRow | undefined> {
  return q.get<RoundRow>(
    `SELECT * FROM fl_secagg_rounds WHERE task_id = ? AND round = ?${q.dialect.forUpdate}`,
    [taskId, round],
  );
}

/**
 * Secure-aggregation rounds (see {@link SecAggStore}). Every write holds the round's row
 * (`FOR UPDATE` on PostgreSQL), so a message is checked against the phase it lands in, and a
 * phase ends only over the messages its driver read.
 */
export function secAggArea(db: Sql): SecAggStore {
  return {
    openSecAggRound(round, state) {
      return db.tx(async (q) => {
        if ((await insertFlRound(q, round)) === 0) return false;
        // A row left by a round of the same key that never opened (none is expected) goes first.
        await q.run('DELETE FROM fl_secagg_rounds WHERE task_id = ? AND round = ?', [
          round.taskId,
          round.round,
        ]);
        await q.run(
          `INSERT INTO fl_secagg_rounds
             (task_id, round, phase, phase_at, params, max_examples, task, roster, submitted, survivors, seq)
           VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, 0)`,
          [
            round.taskId,
            round.round,
            state.phase,
            state.phaseAt,
            JSON.stringify(state.params),
            state.maxExamples,
            JSON.stringify(state.task),
          ],
        );
        return true;
      });
    },
    async getSecAggRound(taskId, round) {
      const row = await db.get<RoundRow>('SELECT * FROM fl_secagg_rounds WHERE task_id = ? AND round = ?', [
        taskId,
        round,
      ]);
      return row === undefined ? undefined : toRound(row);
    },
    addSecAggMessage(m, accept) {
      return db.tx(async (q) => {
        const row = await lockRound(q, m.taskId, m.round);
        if (row === undefined)
          throw new OutpostError('FL_SECAGG_FAILED', `no secure round ${m.taskId}/${m.round} in progress`);
        const body = JSON.stringify(m.body);
        const existing = await q.get<{ body: string }>(
          'SELECT body FROM fl_secagg_messages WHERE task_id = ? AND round = ? AND device_id = ? AND kind = ?',
          [m.taskId, m.round, m.deviceId, m.kind],
        );
        if (existing !== undefined) {
          if (existing.body === body) return 'duplicate';
          throw new OutpostError('FL_SECAGG_FAILED', `${m.deviceId} sent ${m.kind} twice`);
        }
        accept(toRound(row));
        const seq = row.seq + 1;
        await q.run('UPDATE fl_secagg_rounds SET seq = ? WHERE task_id = ? AND round = ?', [
          seq,
          m.taskId,
          m.round,
        ]);
        await q.run(
          `INSERT INTO fl_secagg_messages (task_id, round, device_id, kind, seq, body, at)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
          [m.taskId, m.round, m.deviceId, m.kind, seq, body, m.at],
        );
        return 'stored';
      });
    },
    async listSecAggMessages(taskId, round, afterSeq = 0) {
      const rows = await db.all<MessageRow>(
        'SELECT * FROM fl_secagg_messages WHERE task_id = ? AND round = ? AND seq > ? ORDER BY seq',
        [taskId, round, afterSeq],
      );
      return rows.map(toMessage);
    },
    advanceSecAggRound(taskId, round, from, to) {
      return db.tx(async (q) => {
        const row = await lockRound(q, taskId, round);
        if (row === undefined || row.phase !== from.phase || row.seq !== from.seq) return false;
        const text = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
        await q.run(
          `UPDATE fl_secagg_rounds
           SET phase = ?, phase_at = ?, roster = COALESCE(?, roster), submitted = COALESCE(?, submitted),
               survivors = COALESCE(?, survivors)
           WHERE task_id = ? AND round = ?`,
          [to.phase, to.phaseAt, text(to.roster), text(to.submitted), text(to.survivors), taskId, round],
        );
        return true;
      });
    },
    pruneSecAggRounds() {
      // Messages go with their round (ON DELETE CASCADE).
      return db.run(
        `DELETE FROM fl_secagg_rounds WHERE NOT EXISTS (
           SELECT 1 FROM fl_rounds r JOIN fl_tasks t ON t.id = r.task_id
           WHERE r.task_id = fl_secagg_rounds.task_id AND r.round = fl_secagg_rounds.round
             AND r.status = ? AND t.status = 'running')`,
        [ROUND_OPEN],
      );
    },
  };
}
