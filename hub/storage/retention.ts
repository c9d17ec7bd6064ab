import type { Statement, Transaction } from 'better-sqlite3';
import type { Db } from './database.js';
import type { RetentionPolicy } from './types.js';

const DAY_MS = 24 * 3600 * 1000;

/** Raw readings and events 30 days, rollups 365 days. */
export const DEFAULT_RETENTION: RetentionPolicy = { rawMs: 30 * DAY_MS, rollupMs: 365 * DAY_MS };

/**
 * The one retention transaction: deletes expired rows in bounded steps. Each statement deletes at most
 * the remaining budget, found through an index in age order, so one step costs O(budget), whatever the
 * size of the tables. Built by HubStore.open() and by the compaction worker's CompactionStore.
 */
export class Retention {
  readonly #chunks: Statement<[number, number]>;
  readonly #events: Statement<[number, number]>;
  readonly #rollups: Array<Statement<[number, number]>>;
  readonly #step: Transaction<(maxRows: number) => number>;

  /** `policy` with the defaults already applied; `now` the clock cut-offs are measured from. */
  constructor(db: Db, policy: RetentionPolicy, now: () => number) {
    this.#chunks = db.prepare('DELETE FROM chunks WHERE id IN (SELECT id FROM chunks WHERE t_max < ? ORDER BY t_max LIMIT ?)');
    this.#events = db.prepare('DELETE FROM events WHERE id IN (SELECT id FROM events WHERE ts < ? ORDER BY ts LIMIT ?)');
    // Rollups are keyed (bucket, series) (migration 0007): the oldest buckets are the head of the table.
    this.#rollups = (['rollup_minute', 'rollup_hour'] as const).map((table) =>
      db.prepare(`DELETE FROM ${table} WHERE (bucket, series) IN (SELECT bucket, series FROM ${table} WHERE bucket < ? ORDER BY bucket LIMIT ?)`),
    );
    // A compaction pass between its phases may have read a chunk or merge into rollups deleted here.
    const bumpGuard = db.prepare('UPDATE compaction_guard SET generation = generation + 1 WHERE id = 1');
    this.#step = db.transaction((maxRows: number) => {
      const deleted = this.#delete(maxRows, now(), policy);
      if (deleted > 0) bumpGuard.run();
      return deleted;
    });
  }

  /** Deletes at most `maxRows` expired rows (chunks and events past rawMs, rollups past rollupMs) in one immediate transaction; returns how many. */
  step(maxRows: number): number {
    return this.#step.immediate(maxRows);
  }

  #delete(maxRows: number, now: number, policy: RetentionPolicy): number {
    let budget = maxRows;
    const rawCut = now - policy.rawMs;
    const rollupCut = now - policy.rollupMs;
    budget -= this.#chunks.run(rawCut, budget).changes;
    if (budget > 0) budget -= this.#events.run(rawCut, budget).changes;
    for (const rollups of this.#rollups) {
      if (budget <= 0) break;
      budget -= rollups.run(rollupCut, budget).changes;
    }
    return maxRows - budget;
  }
}
