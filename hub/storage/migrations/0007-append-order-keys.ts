import type { Migration } from './migration.js';

const rollupTable = (table: string, bucketMs: number): string => `
CREATE TABLE ${table}_v7 (
  bucket INTEGER NOT NULL CHECK (bucket >= 0 AND bucket % ${bucketMs} = 0),
  series INTEGER NOT NULL REFERENCES series (id) ON DELETE CASCADE,
  min REAL NOT NULL,
  max REAL NOT NULL,
  sum REAL NOT NULL,
  count INTEGER NOT NULL CHECK (count > 0),
  PRIMARY KEY (bucket, series),
  CHECK (min <= max)
) STRICT, WITHOUT ROWID;
INSERT INTO ${table}_v7 (bucket, series, min, max, sum, count) SELECT bucket, series, min, max, sum, count FROM ${table} ORDER BY bucket, series;
DROP TABLE ${table};
ALTER TABLE ${table}_v7 RENAME TO ${table};
CREATE INDEX ${table}_series ON ${table} (series, bucket);
`;

/**
 * Keys that a compaction pass writes near their end instead of once per series (flash wear, #17). A pass
 * touches every series with new readings; where its writes landed in a key ordered by series first, each
 * series cost a page of its own (written to the WAL, then again by the checkpoint), whatever the readings
 * per series: on a hub with hours of history, ~1,450 bytes per reading at 12 readings per series a pass.
 * - Rollups are keyed (bucket, series): the buckets a pass merges into are the newest, so their rows lie
 *   together at the end of the table. The (series, bucket) index that history and cascades use gets an
 *   entry once per series and bucket (a minute or an hour), not at every merge: it holds no merged column.
 * - The history index of chunks is (series, t_min): a series' open chunk keeps its t_min while a pass
 *   appends to it, so only its row and the t_max index (whose newest entries lie at its end) change.
 *   Chunks overlapping [from, to] are those with t_min in [from - CHUNK_MAX_SPAN_MS, to] and t_max >= from.
 */
export const migration0007: Migration = {
  version: 7,
  name: 'append-order-keys',
  sql: `
DROP INDEX chunks_series_tmax;
CREATE INDEX chunks_series_tmin ON chunks (series, t_min);
${rollupTable('rollup_minute', 60_000)}
${rollupTable('rollup_hour', 3_600_000)}
`,
};
