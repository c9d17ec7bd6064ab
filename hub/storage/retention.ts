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
  readonly #rollupSeries: Array<{ find: Statement<[number, number], number>; trim: Statement<[{ series: number; cut: number; limit: number }]> }>;
  readonly #step: Transaction<(maxRows: number) => number>;

  /** `policy` with the defaults already applied; `now` the clock cut-offs are measured from. */
  constructor(db: Db, policy: RetentionPolicy, now: () => number) {
    this.#chunks = db.prepare('DELETE FROM chunks WHERE id IN (SELECT id FROM chunks WHERE t_max < ? ORDER BY t_max LIMIT ?)');
    this.#events = db.prepare('DELETE FROM events WHERE id IN (SELECT id FROM events WHERE ts < ? ORDER BY ts LIMIT ?)');
    // Rollups have no index on bucket alone (it would cost as much as the minute table's own key), so
    // they expire series by series through their (series, bucket) primary key: find series that have
    // expired buckets (one probe each), then trim the oldest of each.
    this.#rollupSeries = (['rollup_minute', 'rollup_hour'] as const).map((table) => ({
      find: db
        .prepare(`SELECT id FROM series WHERE EXISTS (SELECT 1 FROM ${table} WHERE series = series.id AND bucket < ?) LIMIT ?`)
        .pluck() as unknown as Statement<[number, number], number>,
      trim: db.prepare(
        `DELETE FROM ${table} WHERE series = @series AND bucket IN
           (SELECT bucket FROM ${table} WHERE series = @series AND bucket < @cut ORDER BY bucket LIMIT @limit)`,
      ),
    }));
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
    for (const { find, trim } of this.#rollupSeries) {
      if (budget <= 0) break;
      for (const series of find.all(rollupCut, budget)) {
        budget -= trim.run({ series, cut: rollupCut, limit: budget }).changes;
        if (budget <= 0) break;
      }
    }
    return maxRows - budget;
  }
}
