import type { Migration } from './migration.js';

/**
 * How far the ingest journal (storage/journal/) is in the database: the end of the last record drained, as
 * (segment, offset). A drain transaction stores its records and moves this in one commit, so a record found
 * again at start-up is stored exactly when it lies past the marker.
 */
export const migration0006: Migration = {
  version: 6,
  name: 'ingest-journal',
  sql: `
CREATE TABLE ingest_journal (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  segment INTEGER NOT NULL CHECK (segment >= 0),
  offset INTEGER NOT NULL CHECK (offset >= 0)
) STRICT;
INSERT INTO ingest_journal (id, segment, offset) VALUES (1, 0, 0);
`,
};
