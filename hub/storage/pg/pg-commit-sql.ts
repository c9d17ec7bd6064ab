// The text of hearth_commit(), the function migrations 5, 6 and 8 of pg-migrations.ts create and replace.

/** Migration 5's hearth_commit(), as it was written; migration 6 changes one statement of it. */
export const ONE_STATEMENT_COMMIT = `
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
export function replaceOnce(text: string, from: string, to: string): string {
  if (text.split(from).length !== 2) throw new Error(`migration text: expected one ${JSON.stringify(from)}`);
  return text.replace(from, to);
}

/**
 * Migration 6's hearth_commit(): two statements of migration 5's changed, each about a fifth of the server's
 * time at 1,000 devices (perf under `npm run bench -- scale`): the fence's row locks through a join with the
 * batch's devices, where `device_id = ANY (f_dev)` compared every owner row with every device of the batch;
 * and the readings' series checked per device of the batch instead of per reading. The rest is unchanged.
 */
export const CHEAPER_COMMIT = [
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
