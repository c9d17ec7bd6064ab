// Test support: what compaction stored, read through a raw read-only connection, in ReadingLedger's form.
import Database from 'better-sqlite3';
import { decodeChunk } from '../chunk-codec.js';
import { toNative } from '../native-value.js';
import { comparePair, type ReadingsBySeries, type RollupRows } from './reading-ledger.js';

/** What the database holds: chunk readings, log rows, rollups and latest timestamps, in ledger form. */
export interface StoredState {
  chunks: ReadingsBySeries;
  log: ReadingsBySeries;
  /** Chunks and log together: equal to the ledger's readings exactly when every reading is stored once. */
  all: ReadingsBySeries;
  minute: RollupRows;
  hour: RollupRows;
  latestTs: Record<number, number>;
}

/** Reads the whole state in one read transaction. */
export function readStoredState(path: string): StoredState {
  const db = new Database(path, { readonly: true });
  try {
    return db.transaction(() => {
      const chunks: ReadingsBySeries = {};
      for (const c of db.prepare('SELECT series, data FROM chunks').all() as Array<{ series: number; data: Uint8Array }>) {
        const d = decodeChunk(c.data);
        const list = (chunks[c.series] ??= []);
        d.ts.forEach((ts, i) => list.push([ts, toNative(d.values[i]!)]));
      }
      const log: ReadingsBySeries = {};
      for (const r of db.prepare('SELECT series, ts, value FROM log').all() as Array<{ series: number; ts: number; value: number | string }>) {
        (log[r.series] ??= []).push([r.ts, r.value]);
      }
      const all: ReadingsBySeries = {};
      for (const src of [chunks, log]) for (const [s, list] of Object.entries(src)) (all[Number(s)] ??= []).push(...list);
      for (const src of [chunks, log, all]) for (const list of Object.values(src)) list.sort(comparePair);
      const rollups = (table: string): RollupRows => {
        const out: RollupRows = {};
        for (const r of db.prepare(`SELECT series, bucket, min, max, sum, count FROM ${table}`).raw().all() as number[][]) {
          out[`${r[0]}/${r[1]}`] = [r[2]!, r[3]!, r[4]!, r[5]!];
        }
        return out;
      };
      const latestTs: Record<number, number> = {};
      for (const r of db.prepare('SELECT series, ts FROM series_latest').raw().all() as number[][]) latestTs[r[0]!] = r[1]!;
      return { chunks, log, all, minute: rollups('rollup_minute'), hour: rollups('rollup_hour'), latestTs };
    }).deferred();
  } finally {
    db.close();
  }
}

/** Rollup rows with sums rounded to 6 decimals: the order of additions differs between a pass and the brute force. */
export function roundedRollups(rows: RollupRows): RollupRows {
  const out: RollupRows = {};
  for (const [k, [min, max, sum, count]] of Object.entries(rows)) out[k] = [min, max, Math.round(sum * 1e6) / 1e6, count];
  return out;
}
