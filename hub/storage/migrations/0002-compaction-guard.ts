import type { Migration } from './migration.js';

/**
 * A counter that compaction checks before it writes. Compaction reads log rows and open chunks in one
 * transaction and writes their chunks, rollups and latest values in a later one (on its own connection,
 * so the hub's main thread never waits on it). In between, only a change to the series table can
 * invalidate what it read: removing a device (its series and their rows go) or retyping a series (its
 * rows are compacted on the spot under the old type). Both bump the counter through these triggers, so
 * any SQL path (the hub, the CLI, a cascade) is covered, and compaction drops its work and reads again.
 */
export const migration0002: Migration = {
  version: 2,
  name: 'compaction-guard',
  sql: `
CREATE TABLE compaction_guard (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  generation INTEGER NOT NULL
) STRICT;
INSERT INTO compaction_guard (id, generation) VALUES (1, 0);

CREATE TRIGGER series_deleted_guard AFTER DELETE ON series
BEGIN
  UPDATE compaction_guard SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER series_retyped_guard AFTER UPDATE OF value_type ON series
BEGIN
  UPDATE compaction_guard SET generation = generation + 1 WHERE id = 1;
END;
`,
};
