import type { Migration } from './migration.js';

// Constants baked into the schema: changing one needs a new migration, not an edit here.
// MAX_VARINT (2^53-1) bounds seqs and command ids, which go on the wire as varints [FP-4.1].
const MAX_VARINT = '9007199254740991';
const VALUE_TYPES = "('bool', 'int', 'float', 'string', 'enum')";
/**
 * Longest time one chunk covers. History finds the chunks overlapping [from, to] as those with t_min in
 * [from - CHUNK_MAX_SPAN_MS, to], a bounded range of the (series, t_min) index (0007); the CHECK keeps that true.
 */
export const CHUNK_MAX_SPAN_MS = 6 * 3600 * 1000;

/**
 * The first schema. STRICT tables with NOT NULL and CHECK constraints are the last net behind the
 * validation at the protocol and API boundaries (house style: "validate once, at the boundary").
 */
export const migration0001: Migration = {
  version: 1,
  name: 'initial',
  sql: `
-- Device ids: 1-64 characters of [A-Za-z0-9_.-] [FP-2.1].
CREATE TABLE devices (
  id TEXT PRIMARY KEY NOT NULL
    CHECK (length(id) BETWEEN 1 AND 64 AND id NOT GLOB '*[^A-Za-z0-9_.-]*'),
  name TEXT NOT NULL,
  type TEXT NOT NULL,
  token_salt TEXT NOT NULL,
  token_hash TEXT NOT NULL,
  model TEXT NOT NULL DEFAULT '',
  firmware TEXT NOT NULL DEFAULT '',
  capabilities TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(capabilities)),
  created_at INTEGER NOT NULL CHECK (created_at >= 0),
  revoked_at INTEGER CHECK (revoked_at >= 0)
) STRICT;

-- seq: highest data-frame seq stored, committed with its readings [FP-8.2]; WELCOME.nextSeq is seq + 1 [FP-8.4].
-- Written on every group commit, so kept narrow and apart from devices: updating a devices row would
-- rewrite its capabilities JSON (kilobytes for a device with many capabilities) every time.
CREATE TABLE device_state (
  device_id TEXT PRIMARY KEY NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  seq INTEGER NOT NULL DEFAULT 0 CHECK (seq BETWEEN 0 AND ${MAX_VARINT}),
  last_seen INTEGER CHECK (last_seen >= 0)
) STRICT, WITHOUT ROWID;

-- AUTOINCREMENT: an id is never reused, so a series id cached by the ingest for a removed device can
-- never land in another device's series.
CREATE TABLE series (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  metric TEXT NOT NULL CHECK (length(metric) BETWEEN 1 AND 64),
  value_type TEXT NOT NULL CHECK (value_type IN ${VALUE_TYPES}),
  UNIQUE (device_id, metric)
) STRICT;

-- The ingest log: append-only in rowid order, no index and no foreign key, because any key ordered by
-- (series, ts) or any per-row lookup cuts insert speed about twentyfold. Values are native: bool, int
-- and enum INTEGER, float REAL, string TEXT; the series' value_type says which. compactStep() moves rows
-- out; a row whose series was removed is dropped there. The CHECKs keep out what the chunk codec could
-- not encode (a timestamp beyond a varint, a string over 255 bytes [FP-5.5]), which would stall compaction.
CREATE TABLE log (
  series INTEGER NOT NULL,
  ts INTEGER NOT NULL CHECK (ts BETWEEN 0 AND ${MAX_VARINT}),
  value ANY NOT NULL CHECK (typeof(value) <> 'text' OR length(CAST(value AS BLOB)) <= 255)
) STRICT;

-- Compressed readings of one series (chunk-codec.ts), sorted by ts.
CREATE TABLE chunks (
  id INTEGER PRIMARY KEY,
  series INTEGER NOT NULL REFERENCES series (id) ON DELETE CASCADE,
  t_min INTEGER NOT NULL CHECK (t_min >= 0),
  t_max INTEGER NOT NULL,
  n INTEGER NOT NULL CHECK (n > 0),
  data BLOB NOT NULL,
  CHECK (t_min <= t_max AND t_max - t_min <= ${CHUNK_MAX_SPAN_MS})
) STRICT;
-- History: chunks of one series overlapping a time range.
CREATE INDEX chunks_series_tmax ON chunks (series, t_max);
-- Retention: the oldest chunks of all series, in bounded steps.
CREATE INDEX chunks_tmax ON chunks (t_max);

-- Rollups of numeric series: one row per (series, bucket start). WITHOUT ROWID: the primary key is the
-- only index the queries need, so the table is that index.
CREATE TABLE rollup_minute (
  series INTEGER NOT NULL REFERENCES series (id) ON DELETE CASCADE,
  bucket INTEGER NOT NULL CHECK (bucket >= 0 AND bucket % 60000 = 0),
  min REAL NOT NULL,
  max REAL NOT NULL,
  sum REAL NOT NULL,
  count INTEGER NOT NULL CHECK (count > 0),
  PRIMARY KEY (series, bucket),
  CHECK (min <= max)
) STRICT, WITHOUT ROWID;

CREATE TABLE rollup_hour (
  series INTEGER NOT NULL REFERENCES series (id) ON DELETE CASCADE,
  bucket INTEGER NOT NULL CHECK (bucket >= 0 AND bucket % 3600000 = 0),
  min REAL NOT NULL,
  max REAL NOT NULL,
  sum REAL NOT NULL,
  count INTEGER NOT NULL CHECK (count > 0),
  PRIMARY KEY (series, bucket),
  CHECK (min <= max)
) STRICT, WITHOUT ROWID;

-- Newest compacted value per series; latest() adds what is still in the log.
CREATE TABLE series_latest (
  series INTEGER PRIMARY KEY REFERENCES series (id) ON DELETE CASCADE,
  ts INTEGER NOT NULL CHECK (ts >= 0),
  value ANY NOT NULL
) STRICT;

CREATE TABLE events (
  id INTEGER PRIMARY KEY,
  device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  ts INTEGER NOT NULL CHECK (ts >= 0),
  value_type TEXT NOT NULL CHECK (value_type IN ${VALUE_TYPES}),
  value ANY NOT NULL
) STRICT;
CREATE INDEX events_device_ts ON events (device_id, ts);
CREATE INDEX events_ts ON events (ts);

-- AUTOINCREMENT: the id is the COMMAND frame id, and a late COMMAND_RESULT must never match a newer command.
CREATE TABLE commands (
  id INTEGER PRIMARY KEY AUTOINCREMENT CHECK (id BETWEEN 1 AND ${MAX_VARINT}),
  device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  command TEXT NOT NULL,
  value_type TEXT NOT NULL CHECK (value_type IN ${VALUE_TYPES}),
  value ANY NOT NULL,
  source TEXT NOT NULL,
  sent_at INTEGER NOT NULL CHECK (sent_at >= 0),
  status TEXT CHECK (status IN ('ok', 'invalid', 'failed', 'unsupported', 'busy', 'offline', 'timeout')),
  message TEXT,
  finished_at INTEGER,
  CHECK ((status IS NULL) = (finished_at IS NULL))
) STRICT;
CREATE INDEX commands_device_id ON commands (device_id, id);
`,
};
