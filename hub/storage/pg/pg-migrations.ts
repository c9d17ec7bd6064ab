import type pg from 'pg';
import { StoreError } from '../errors.js';

// MAX_VARINT (2^53-1) bounds seqs, command ids and timestamps, as in the SQLite schema [FP-4.1].
const MAX_VARINT = '9007199254740991';
const VALUE_TYPES = "('bool', 'int', 'float', 'string', 'enum')";
/** hub/auth/user-rules.ts ROLES. */
const ROLE_NAMES = "('admin', 'integration', 'viewer')";
/** Width of one readings partition: one per UTC day (retention drops whole days). */
export const PARTITION_MS = 24 * 3600 * 1000;

/** One numbered schema step of the PostgreSQL store; `version` is hearth_schema.version after it. */
export interface PgMigration {
  version: number;
  name: string;
  sql: string;
}

/**
 * The PostgreSQL schema: the SQLite store's tables (hub/storage/migrations/) with engine-native types, plus
 * device ownership for several hubs. Values are two columns: `num` (bool 0/1, int, enum index, float) or
 * `txt` (string), one of them set; the series' (or row's) value_type says which type it was.
 */
/** Migration 5's hearth_commit(), as it was written; migration 6 changes one statement of it. */
const ONE_STATEMENT_COMMIT = `
-- A batch's whole commit in one call (hub/storage/pg/pg-commit.ts): one round trip instead of six, so a hub
-- whose event loop is busy with its devices does not keep the database waiting between the statements of
-- each transaction. The statement's own transaction holds it all: fence check (row locks on device_owner),
-- readings with the rollups of late ones, events, seqs and lastSeen [FP-8.2]. Answers 'ok', 'stored' (the
-- batch was committed before and its answer lost: nothing written) or 'fenced <device> ...' (nothing written).
CREATE FUNCTION hearth_commit(
  r_ts bigint[], r_num float8[], r_series integer[], r_txt text[], r_roll boolean[],
  e_dev text[], e_name text[], e_ts bigint[], e_type text[], e_num float8[], e_txt text[],
  s_dev text[], s_seq bigint[], s_seen bigint[],
  l_dev text[], l_seen bigint[],
  f_dev text[], f_epoch bigint[]
) RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
  stale text[];
  stored boolean;
  wm bigint;
BEGIN
  IF cardinality(f_dev) > 0 THEN
    -- FOR SHARE, in device order: a claim by another hub (an UPDATE of these rows) waits for this commit.
    PERFORM 1 FROM device_owner WHERE device_id = ANY (f_dev) ORDER BY device_id FOR SHARE;
    SELECT array_agg(f.d ORDER BY f.d) INTO stale
      FROM unnest(f_dev, f_epoch) AS f (d, e) LEFT JOIN device_owner o ON o.device_id = f.d
      WHERE o.epoch IS DISTINCT FROM f.e;
    IF stale IS NOT NULL THEN
      RETURN 'fenced ' || array_to_string(stale, ' ');
    END IF;
    -- Under unchanged epochs only this hub commits these devices, in batch order: every seq of the batch
    -- stored already means this very batch committed before.
    IF cardinality(s_dev) > 0 THEN
      SELECT bool_and(coalesce(st.seq, 0) >= x.q) INTO stored
        FROM unnest(s_dev, s_seq) AS x (d, q) LEFT JOIN device_state st ON st.device_id = x.d;
      IF stored THEN
        RETURN 'stored';
      END IF;
    END IF;
  END IF;
  IF cardinality(r_ts) > 0 THEN
    -- FOR SHARE: rollupStep() (FOR UPDATE) cannot move the watermark past readings not committed yet;
    -- readings below it are late and merged into the rollups here, the rest wait for the step.
    SELECT watermark INTO wm FROM rollup_state WHERE id = 1 FOR SHARE;
    INSERT INTO readings (ts, num, series, txt)
      SELECT r.ts, r.num, r.series, r.txt FROM unnest(r_ts, r_num, r_series, r_txt) AS r (ts, num, series, txt)
      WHERE EXISTS (SELECT 1 FROM series s WHERE s.id = r.series);
    IF EXISTS (SELECT 1 FROM unnest(r_ts, r_roll) AS r (ts, roll) WHERE r.roll AND r.ts < wm) THEN
      INSERT INTO rollup_minute AS m (series, bucket, min, max, sum, count)
        SELECT r.series, r.ts - r.ts % 60000, min(r.num), max(r.num), sum(r.num), count(*)
        FROM unnest(r_ts, r_num, r_series, r_roll) AS r (ts, num, series, roll)
        WHERE r.roll AND r.ts < wm AND EXISTS (SELECT 1 FROM series s WHERE s.id = r.series)
        GROUP BY 1, 2 ORDER BY 1, 2
      ON CONFLICT (series, bucket) DO UPDATE SET min = least(m.min, excluded.min), max = greatest(m.max, excluded.max),
        sum = m.sum + excluded.sum, count = m.count + excluded.count;
      INSERT INTO rollup_hour AS h (series, bucket, min, max, sum, count)
        SELECT r.series, r.ts - r.ts % 3600000, min(r.num), max(r.num), sum(r.num), count(*)
        FROM unnest(r_ts, r_num, r_series, r_roll) AS r (ts, num, series, roll)
        WHERE r.roll AND r.ts < wm AND EXISTS (SELECT 1 FROM series s WHERE s.id = r.series)
        GROUP BY 1, 2 ORDER BY 1, 2
      ON CONFLICT (series, bucket) DO UPDATE SET min = least(h.min, excluded.min), max = greatest(h.max, excluded.max),
        sum = h.sum + excluded.sum, count = h.count + excluded.count;
    END IF;
  END IF;
  IF cardinality(e_dev) > 0 THEN
    INSERT INTO events (device_id, name, ts, value_type, num, txt)
      SELECT e.* FROM unnest(e_dev, e_name, e_ts, e_type, e_num, e_txt) AS e (device_id, name, ts, value_type, num, txt)
      WHERE EXISTS (SELECT 1 FROM devices WHERE id = e.device_id);
  END IF;
  IF cardinality(s_dev) > 0 THEN
    -- In device order: two commits touching the same devices lock their rows in the same order.
    INSERT INTO device_state AS st (device_id, seq, last_seen)
      SELECT x.* FROM unnest(s_dev, s_seq, s_seen) AS x (device_id, seq, last_seen)
      WHERE EXISTS (SELECT 1 FROM devices WHERE id = x.device_id) ORDER BY x.device_id
    ON CONFLICT (device_id) DO UPDATE SET seq = excluded.seq, last_seen = coalesce(excluded.last_seen, st.last_seen);
  END IF;
  IF cardinality(l_dev) > 0 THEN
    INSERT INTO device_state AS st (device_id, seq, last_seen)
      SELECT x.device_id, 0, x.last_seen FROM unnest(l_dev, l_seen) AS x (device_id, last_seen)
      WHERE EXISTS (SELECT 1 FROM devices WHERE id = x.device_id) ORDER BY x.device_id
    ON CONFLICT (device_id) DO UPDATE SET last_seen = excluded.last_seen;
  END IF;
  RETURN 'ok';
END
$fn$;
`;

/** `text` with its one `from` replaced; throws if `from` is not in it (a migration built from another). */
function replaceOnce(text: string, from: string, to: string): string {
  if (text.split(from).length !== 2) throw new Error(`migration text: expected one ${JSON.stringify(from)}`);
  return text.replace(from, to);
}

/**
 * Migration 6's hearth_commit(): two statements of migration 5's changed, each about a fifth of the server's
 * time at 1,000 devices (perf under `npm run bench -- scale`): the fence's row locks through a join with the
 * batch's devices, where `device_id = ANY (f_dev)` compared every owner row with every device of the batch;
 * and the readings' series checked per device of the batch instead of per reading. The rest is unchanged.
 */
const CHEAPER_COMMIT = [
  ['CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION'],
  ['  wm bigint;', '  wm bigint;\n  known boolean;'],
  [
    'PERFORM 1 FROM device_owner WHERE device_id = ANY (f_dev) ORDER BY device_id FOR SHARE;',
    'PERFORM 1 FROM device_owner o JOIN unnest(f_dev) AS f (d) ON o.device_id = f.d ORDER BY o.device_id FOR SHARE OF o;',
  ],
  [
    `    INSERT INTO readings (ts, num, series, txt)
      SELECT r.ts, r.num, r.series, r.txt FROM unnest(r_ts, r_num, r_series, r_txt) AS r (ts, num, series, txt)
      WHERE EXISTS (SELECT 1 FROM series s WHERE s.id = r.series);`,
    `    -- A device removed while its readings waited has no series left: checked per device of the batch (a
    -- hub's batch holds the seq of every device it has readings of), per reading only when one is gone.
    known := cardinality(s_dev) > 0 AND NOT EXISTS (SELECT 1 FROM unnest(s_dev) AS x (d) WHERE NOT EXISTS (SELECT 1 FROM devices WHERE id = x.d));
    INSERT INTO readings (ts, num, series, txt)
      SELECT r.ts, r.num, r.series, r.txt FROM unnest(r_ts, r_num, r_series, r_txt) AS r (ts, num, series, txt)
      WHERE known OR EXISTS (SELECT 1 FROM series s WHERE s.id = r.series);`,
  ],
].reduce((text, [from, to]) => replaceOnce(text, from!, to!), ONE_STATEMENT_COMMIT);

export const PG_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
CREATE TABLE devices (
  id text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_.-]{1,64}$'),
  name text NOT NULL,
  type text NOT NULL,
  token_salt text NOT NULL,
  token_hash text NOT NULL,
  model text NOT NULL DEFAULT '',
  firmware text NOT NULL DEFAULT '',
  -- json, not jsonb: capabilities come back exactly as the HELLO declared them.
  capabilities json NOT NULL DEFAULT '[]',
  created_at bigint NOT NULL CHECK (created_at >= 0),
  revoked_at bigint CHECK (revoked_at >= 0),
  room text CHECK (room IS NULL OR length(room) BETWEEN 1 AND 64),
  updates boolean NOT NULL DEFAULT false
);

-- seq committed with its readings [FP-8.2]; narrow and apart from devices, as in SQLite.
CREATE TABLE device_state (
  device_id text PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
  seq bigint NOT NULL DEFAULT 0 CHECK (seq BETWEEN 0 AND ${MAX_VARINT}),
  last_seen bigint CHECK (last_seen >= 0)
);

-- Which hub holds a device (issue #16 section 2): every claim bumps epoch; a commit carrying an older
-- epoch for the device is refused inside its transaction (fencing).
CREATE TABLE device_owner (
  device_id text PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
  hub_id text NOT NULL,
  epoch bigint NOT NULL CHECK (epoch > 0)
);

-- Ids never reused (an identity never goes back), like SQLite's AUTOINCREMENT.
CREATE TABLE series (
  id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  device_id text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  metric text NOT NULL CHECK (length(metric) BETWEEN 1 AND 64),
  value_type text NOT NULL CHECK (value_type IN ${VALUE_TYPES}),
  UNIQUE (device_id, metric)
);

-- Readings, partitioned by day on ts (PgPartitions creates them ahead, retention drops them whole). No
-- foreign key: a per-row check would cost every insert; removeDevice deletes a device's rows itself.
-- Column order ts, num, series, txt packs the row without alignment padding.
CREATE TABLE readings (
  ts bigint NOT NULL CHECK (ts BETWEEN 0 AND ${MAX_VARINT}),
  num double precision,
  series integer NOT NULL,
  txt text CHECK (length(txt) <= 255),
  CHECK ((num IS NULL) <> (txt IS NULL))
) PARTITION BY RANGE (ts);
-- History reads one series over a range; every partition gets this index.
CREATE INDEX readings_series_ts ON readings (series, ts);

-- Readings arrive in about ts order, so a BRIN index (a few pages per partition) finds the span of ts that
-- rollupStep() aggregates without a scan of the partition or a second btree to maintain on every insert.
CREATE INDEX readings_ts_brin ON readings USING brin (ts);

-- Rollups of numeric series, for buckets before rollup_state.watermark: rollupStep() aggregates each closed
-- span of readings once (not every commit: at a reading per series per second, per-commit upserts rewrote
-- each bucket row once per reading). A late reading (ts below the watermark) is merged by its commit. No
-- foreign key: its per-row check would cost every upsert; removeDevice deletes them itself.
CREATE TABLE rollup_state (
  id integer PRIMARY KEY CHECK (id = 1),
  watermark bigint NOT NULL CHECK (watermark >= 0 AND watermark % 60000 = 0)
);
INSERT INTO rollup_state (id, watermark) VALUES (1, 0);
CREATE TABLE rollup_minute (
  series integer NOT NULL,
  bucket bigint NOT NULL CHECK (bucket >= 0 AND bucket % 60000 = 0),
  min double precision NOT NULL,
  max double precision NOT NULL,
  sum double precision NOT NULL,
  count bigint NOT NULL CHECK (count > 0),
  PRIMARY KEY (series, bucket),
  CHECK (min <= max)
);
CREATE INDEX rollup_minute_bucket ON rollup_minute (bucket);
CREATE TABLE rollup_hour (
  series integer NOT NULL,
  bucket bigint NOT NULL CHECK (bucket >= 0 AND bucket % 3600000 = 0),
  min double precision NOT NULL,
  max double precision NOT NULL,
  sum double precision NOT NULL,
  count bigint NOT NULL CHECK (count > 0),
  PRIMARY KEY (series, bucket),
  CHECK (min <= max)
);
CREATE INDEX rollup_hour_bucket ON rollup_hour (bucket);

CREATE TABLE events (
  id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  device_id text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  name text NOT NULL,
  ts bigint NOT NULL CHECK (ts >= 0),
  value_type text NOT NULL CHECK (value_type IN ${VALUE_TYPES}),
  num double precision,
  txt text,
  CHECK ((num IS NULL) <> (txt IS NULL))
);
CREATE INDEX events_device_ts ON events (device_id, ts);
CREATE INDEX events_ts ON events (ts);

-- The id is the COMMAND frame id: never reused.
CREATE TABLE commands (
  id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY CHECK (id BETWEEN 1 AND ${MAX_VARINT}),
  device_id text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  command text NOT NULL,
  value_type text NOT NULL CHECK (value_type IN ${VALUE_TYPES}),
  num double precision,
  txt text,
  source text NOT NULL,
  sent_at bigint NOT NULL CHECK (sent_at >= 0),
  status text CHECK (status IN ('ok', 'invalid', 'failed', 'unsupported', 'busy', 'offline', 'timeout')),
  message text,
  finished_at bigint,
  CHECK ((status IS NULL) = (finished_at IS NULL)),
  CHECK ((num IS NULL) <> (txt IS NULL))
);
CREATE INDEX commands_device_id ON commands (device_id, id);

-- Firmware updates (firmware-protocol.md section 14), as in SQLite migration 0004.
CREATE TABLE firmware_images (
  sha256 text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  model text NOT NULL CHECK (length(model) BETWEEN 1 AND 64),
  version text NOT NULL CHECK (length(version) BETWEEN 1 AND 32),
  size bigint NOT NULL CHECK (size BETWEEN 1 AND 4294967295),
  added_at bigint NOT NULL CHECK (added_at >= 0),
  UNIQUE (model, version)
);
CREATE TABLE firmware_updates (
  id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  device_id text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  sha256 text NOT NULL REFERENCES firmware_images (sha256),
  version text NOT NULL,
  from_version text NOT NULL,
  size bigint NOT NULL CHECK (size >= 1),
  state text NOT NULL CHECK (state IN ('queued', 'transferring', 'verifying', 'done', 'failed', 'rolled_back')),
  "offset" bigint NOT NULL DEFAULT 0 CHECK ("offset" BETWEEN 0 AND size),
  verified boolean NOT NULL DEFAULT false,
  resumes integer NOT NULL DEFAULT 0 CHECK (resumes >= 0),
  reason text,
  retry_at bigint,
  created_at bigint NOT NULL CHECK (created_at >= 0),
  updated_at bigint NOT NULL CHECK (updated_at >= 0)
);
CREATE UNIQUE INDEX firmware_updates_open ON firmware_updates (device_id) WHERE state IN ('queued', 'transferring', 'verifying');
CREATE INDEX firmware_updates_device ON firmware_updates (device_id, id);
`,
  },
  {
    version: 2,
    name: 'several hubs',
    sql: `
-- The hubs sharing this database (issue #16 section 2): each beats seen_at while it runs; one whose beat
-- is stale is dead, and the devices it held are offline (a living hub marks them so).
CREATE TABLE hubs (
  id text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_.-]{1,64}$'),
  started_at bigint NOT NULL CHECK (started_at >= 0),
  seen_at bigint NOT NULL CHECK (seen_at >= 0),
  stopped boolean NOT NULL DEFAULT false
);
-- Whether the holder has the device connected now: set by its claim, cleared when the connection ends.
ALTER TABLE device_owner ADD COLUMN connected boolean NOT NULL DEFAULT false;
CREATE INDEX device_owner_hub ON device_owner (hub_id) WHERE connected;
`,
  },
  {
    version: 3,
    name: 'shared credentials',
    sql: `
-- Users, dashboard sessions and the admin API token, shared by every hub on this database (issue #16), so
-- any hub answers any client with the same credentials. Bounds as users.json's (hub/auth/user-rules.ts).
CREATE TABLE users (
  name text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_.-]{1,64}$'),
  role text NOT NULL CHECK (role IN ${ROLE_NAMES}),
  created_at bigint NOT NULL CHECK (created_at >= 0),
  -- base64 of the 16-byte salt and of the scrypt output; the cost parameters kept with each hash.
  salt text NOT NULL CHECK (length(salt) BETWEEN 1 AND 256),
  hash text NOT NULL CHECK (length(hash) BETWEEN 1 AND 256),
  kdf_n integer NOT NULL CHECK (kdf_n BETWEEN 1 AND 1048576),
  kdf_r integer NOT NULL CHECK (kdf_r BETWEEN 1 AND 32),
  kdf_p integer NOT NULL CHECK (kdf_p BETWEEN 1 AND 16),
  kdf_keylen integer NOT NULL CHECK (kdf_keylen BETWEEN 1 AND 128)
);

-- Dashboard sessions: only the SHA-256 digest (base64) of a token, never the token. Removing a user ends
-- their sessions (the foreign key); the role is kept so that a user given another role is signed out too.
CREATE TABLE dashboard_sessions (
  token_hash text PRIMARY KEY CHECK (token_hash ~ '^[A-Za-z0-9+/]{43}=$'),
  username text NOT NULL REFERENCES users (name) ON DELETE CASCADE,
  role text NOT NULL CHECK (role IN ${ROLE_NAMES}),
  created_at bigint NOT NULL CHECK (created_at >= 0),
  expires_at bigint NOT NULL CHECK (expires_at > created_at)
);
-- The expiry sweep and the bound on live sessions read by expiry; removing a user by name.
CREATE INDEX dashboard_sessions_expires ON dashboard_sessions (expires_at);
CREATE INDEX dashboard_sessions_user ON dashboard_sessions (username);

-- The admin API token: one row, stored by the first hub to start (each hub also writes dataDir/admin.token).
CREATE TABLE admin_token (
  id integer PRIMARY KEY CHECK (id = 1),
  token text NOT NULL CHECK (length(token) BETWEEN 16 AND 256 AND token !~ '\\s'),
  created_at bigint NOT NULL CHECK (created_at >= 0)
);
`,
  },
  // Firmware image bytes in the database.
  {
    version: 4,
    name: 'firmware-chunks',
    sql: `
-- Firmware image bytes [FP-14.3]: several hubs share the database and a device may connect to any of them,
-- so the bytes live here, not in one hub's data directory. Chunks of FIRMWARE_CHUNK_BYTES keep each row (and
-- its hex text on the wire) modest; written in one transaction before the image's firmware_images row, so a
-- catalogued image always has all its bytes. No foreign key: the row comes after the bytes.
CREATE TABLE firmware_chunks (
  sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  idx integer NOT NULL CHECK (idx >= 0),
  data bytea NOT NULL CHECK (length(data) BETWEEN 1 AND 1048576),
  PRIMARY KEY (sha256, idx)
);
`,
  },
  {
    version: 5,
    name: 'one-statement commit',
    sql: ONE_STATEMENT_COMMIT,
  },
  {
    version: 6,
    name: 'cheaper commit',
    sql: CHEAPER_COMMIT,
  },
  {
    version: 7,
    name: 'device changes',
    sql: `
-- Which devices changed, for the hubs' registries (hub/devices/cli-change-watch.ts): re-reading every device
-- every 5 s cost each of 6 hubs a 100,000-row read at 100,000 devices (bench devices100k). Each row is
-- stamped with the id of the transaction that last wrote it; a reader takes the horizon
-- pg_snapshot_xmin(pg_current_snapshot()) before it reads, and its next read asks for the rows stamped at or
-- above it: every transaction below the horizon had ended when it was taken, so none is missed however the
-- commits were ordered (a few rows come twice). Every column counts, HELLO's too: a hub shows the firmware a
-- device told another hub.
ALTER TABLE devices ADD COLUMN changed xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX devices_changed ON devices (changed);
-- Any table's row column changed, stamped on UPDATE (device_owner's too, migration 8).
CREATE FUNCTION hearth_stamp_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  NEW.changed := pg_current_xact_id();
  RETURN NEW;
END
$fn$;
CREATE TRIGGER devices_stamp BEFORE UPDATE ON devices FOR EACH ROW EXECUTE FUNCTION hearth_stamp_changed();
-- Removed devices leave no row to stamp: their ids, stamped the same way. Pruned by PgUpkeep after a week (a
-- hub also re-reads every device every 10 minutes).
CREATE TABLE device_removals (
  device_id text NOT NULL,
  changed xid8 NOT NULL DEFAULT pg_current_xact_id(),
  removed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX device_removals_changed ON device_removals (changed);
CREATE FUNCTION hearth_device_removed() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO device_removals (device_id) VALUES (OLD.id);
  RETURN NULL;
END
$fn$;
CREATE TRIGGER devices_removed AFTER DELETE ON devices FOR EACH ROW EXECUTE FUNCTION hearth_device_removed();
`,
  },
  {
    version: 8,
    name: 'changes since',
    // Each hub re-read the whole owner table and the latest values of every device held elsewhere every
    // OWNERS_EVERY_MS (hub/cluster/hub-cluster.ts): at 100,000 devices on 6 hubs, ~83,000 devices' values per
    // hub every 5 s. Rows now carry the id of the transaction that last changed them, so a hub reads only
    // what changed since its previous read (PgCluster.owners / latestChanged).
    sql: `
-- The transaction that last wrote the row. A reader asks for changed >= the xmin of its previous read's
-- snapshot: every transaction below that had ended then, so a row committed in an order other than its
-- transactions began is still read (a sequence or a clock would miss it). Existing rows get this
-- migration's transaction (a stable default: no table rewrite); a hub reads everything once at start.
ALTER TABLE device_owner ADD COLUMN changed xid8 NOT NULL DEFAULT pg_current_xact_id();
-- A trigger, so every writer stamps it: claims (pg-store.ts), disconnects, releaseDead, a hub stopping.
-- Commits only lock these rows FOR SHARE, which fires no trigger. Claims and disconnects change indexed
-- columns already (device_owner_hub): the index below takes no HOT update from them.
CREATE TRIGGER device_owner_changed BEFORE UPDATE ON device_owner FOR EACH ROW EXECUTE FUNCTION hearth_stamp_changed();
CREATE INDEX device_owner_changed ON device_owner (changed);
-- Stamped by hearth_commit() in the UPDATE it does anyway; no trigger and no index on this hot path (an
-- index on a column every commit changes would end HOT updates of device_state).
ALTER TABLE device_state ADD COLUMN changed xid8 NOT NULL DEFAULT pg_current_xact_id();
${replaceOnce(
  CHEAPER_COMMIT,
  'ON CONFLICT (device_id) DO UPDATE SET seq = excluded.seq, last_seen = coalesce(excluded.last_seen, st.last_seen);',
  'ON CONFLICT (device_id) DO UPDATE SET seq = excluded.seq, last_seen = coalesce(excluded.last_seen, st.last_seen), changed = pg_current_xact_id();',
)}`,
  },
];

/** The schema version this code writes (the newest migration's): a database above it is refused. */
export const PG_SCHEMA_VERSION = Math.max(...PG_MIGRATIONS.map((m) => m.version));

/** Any fixed key: serialises migrations (and partition creation) of several hubs starting at once. */
export const SCHEMA_LOCK = 0x4845_4152; // 'HEAR'

/**
 * Brings the database to PG_SCHEMA_VERSION, all steps in one transaction under an advisory lock; throws
 * StoreError HUB_ERR_DB_TOO_NEW, changing nothing, when hearth_schema says a newer version.
 */
export async function migratePg(client: pg.PoolClient, name: string): Promise<number> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS hearth_schema (id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL)');
    const { rows } = await client.query<{ version: number }>('SELECT version FROM hearth_schema WHERE id = 1');
    const current = rows[0]?.version ?? 0;
    if (current > PG_SCHEMA_VERSION) {
      throw new StoreError(
        'HUB_ERR_DB_TOO_NEW',
        `database ${name} has schema version ${current}, newer than ${PG_SCHEMA_VERSION}, the newest this hub knows; run a newer Hearth`,
      );
    }
    for (const m of PG_MIGRATIONS) if (m.version > current) await client.query(m.sql);
    if (current < PG_SCHEMA_VERSION) {
      await client.query(
        'INSERT INTO hearth_schema (id, version) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET version = excluded.version',
        [PG_SCHEMA_VERSION],
      );
    }
    await client.query('COMMIT');
    return Math.max(current, PG_SCHEMA_VERSION);
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
