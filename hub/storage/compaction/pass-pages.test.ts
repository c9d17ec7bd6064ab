import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { encodeChunk } from '../chunk-codec.js';
import { HubStore } from '../hub-store.js';
import { BUCKET_MS, bucketOf } from '../rollups.js';
import { StoreFixture, batchOf, float, int, newDevice } from '../testing/store-fixture.js';
import type { ReadingRow } from '../types.js';
import { CompactionStore } from './store.js';

// Where a compaction pass's writes land in the database's b-trees (flash wear, #17): a pass merges new
// readings into every series' open chunk, rollup buckets and latest value. On a database with hours of
// history each series' keys fill pages of their own, so any key ordered by series first costs a page per
// series a pass, written to the WAL and again by the checkpoint. Migration 0007 keys what a pass rewrites
// so that it lies together at the end of its b-tree.

const fx = new StoreFixture();
const compactors: CompactionStore[] = [];
afterAll(() => {
  for (const c of compactors) c.close();
  fx.cleanup();
});

const T0 = 1_700_000_000_000; // 20 s into a minute, 800 s into an hour
const HISTORY_HOURS = 6;
const CHUNKS_PER_HOUR = 50;
const WAL_FRAME_BYTES = 24 + 4096;

/** `series` (alternately float and int) with HISTORY_HOURS of chunks and rollups before T0, in time order across series as a hub writes them. */
function withHistory(devices: number, metrics: number): { store: HubStore; compactor: CompactionStore; series: number[] } {
  const path = join(fx.dir(), 'hub.db');
  const store = fx.track(new HubStore({ path }));
  store.open();
  const series: number[] = [];
  for (let d = 0; d < devices; d++) {
    store.addDevice(newDevice(`d${d}`));
    for (let m = 0; m < metrics; m++) series.push(store.seriesId(`d${d}`, `m${m}`, m % 2 === 0 ? 'float' : 'int'));
  }
  const raw = new Database(path);
  try {
    const chunk = raw.prepare('INSERT INTO chunks (series, t_min, t_max, n, data) VALUES (?, ?, ?, 2, ?)');
    const minute = raw.prepare('INSERT INTO rollup_minute (series, bucket, min, max, sum, count) VALUES (?, ?, 1, 2, 3, 2)');
    const hour = raw.prepare('INSERT INTO rollup_hour (series, bucket, min, max, sum, count) VALUES (?, ?, 1, 2, 3, 2)');
    const start = T0 - HISTORY_HOURS * 3_600_000;
    const every = 3_600_000 / CHUNKS_PER_HOUR;
    let next = start;
    for (let bucket = bucketOf(start, BUCKET_MS.minute); bucket < bucketOf(T0, BUCKET_MS.minute); bucket += BUCKET_MS.minute) {
      raw.transaction(() => {
        for (; next < bucket + BUCKET_MS.minute; next += every) {
          const data = [float, int].map((v) => encodeChunk([next, next + 1], [v(1), v(2)]));
          series.forEach((s, i) => chunk.run(s, next, next + 1, data[i % 2]!));
        }
        for (const s of series) minute.run(s, bucket);
        if (bucket % BUCKET_MS.hour === 0 && bucket < bucketOf(T0, BUCKET_MS.hour)) for (const s of series) hour.run(s, bucket);
      })();
    }
  } finally {
    raw.close();
  }
  const compactor = new CompactionStore({ path });
  compactor.open();
  compactors.push(compactor);
  return { store, compactor, series };
}

/** `perSeries` readings of every series from T0 + from (ms), all within T0's minute. */
function readings(series: number[], from: number, perSeries: number): ReadingRow[] {
  return Array.from({ length: perSeries }, (_, k) => series.map((s, i) => ({ series: s, ts: T0 + from + k, value: i % 2 === 0 ? float(k) : int(k) }))).flat();
}

describe('compaction pass pages', () => {
  it('a pass over 200 series with hours of history writes a few pages for all of them, not one per series and key', () => {
    const { store, compactor, series } = withHistory(50, 4);
    const limits = { maxRows: 1e6, maxRowsPerTx: 1e6, maxSeriesPerTx: 1e6 };
    const seqs = (seq: number): Record<string, number> => Object.fromEntries(Array.from({ length: 50 }, (_, d) => [`d${d}`, seq]));
    // The first pass opens this minute's rollup rows and extends each series' newest chunk.
    store.commit(batchOf(readings(series, 0, 10), seqs(1)));
    expect(compactor.compact(limits)).toMatchObject({ rows: 2000, series: 200, transactions: 1 });
    store.commit(batchOf(readings(series, 10, 10), seqs(2)));
    compactor.checkpoint('TRUNCATE');
    expect(compactor.walBytes()).toBe(0);
    expect(compactor.compact(limits)).toMatchObject({ rows: 2000, series: 200, transactions: 1 });
    const frames = (compactor.walBytes() - 32) / WAL_FRAME_BYTES;
    // 26 frames here; keyed by series first (schema version 6), the same pass wrote 428: two or more a series.
    expect(frames).toBeGreaterThan(0);
    expect(frames).toBeLessThan(series.length / 4);
  });
});
