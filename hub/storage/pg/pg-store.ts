import pg from 'pg';
import type { ValueType } from '../../../protocol/types.js';
import { StoreError } from '../errors.js';
import { fromNative, isNumeric } from '../native-value.js';
import { DEFAULT_RETENTION } from '../retention.js';
import type { HubStoreContract } from '../store-contract.js';
import type {
  CommandLogEntry,
  CommandLogStatus,
  CommitBatch,
  DeviceHello,
  DeviceRecord,
  HistoryPoint,
  HistoryQuery,
  LatestValue,
  NewCommand,
  NewDevice,
  RetentionPolicy,
  StoredEvent,
  StoreStats,
} from '../types.js';
import { commitBatch, valueColumns, type Fence } from './pg-commit.js';
import { CLAIMS_CHANNEL, PgCluster } from './pg-cluster.js';
import { PgAuth } from './pg-auth.js';
import { PgFirmware } from './pg-firmware.js';
import { PgImageBytes } from './pg-image-bytes.js';
import { HORIZON, readLatest } from './pg-latest.js';
import { newPool, pgAddress } from './pg-pool.js';
import { native, SELECT_DEVICE, toRecord, type DeviceRow } from './pg-rows.js';
import { rolledHistory, rollupStep } from './pg-rollups.js';
import { migratePg } from './pg-migrations.js';
import { dayOf, PgPartitions } from './pg-partitions.js';

export { FencedError } from './fenced-error.js';
export type { Fence } from './pg-commit.js';

export interface PgStoreOptions {
  /** postgres://user@host:port/db (hub config `db.url`). */
  url: string;
  /** Defaults: raw 30 days, rollups 365 days. */
  retention?: Partial<RetentionPolicy>;
  /** Clock for retention cut-offs and partitions made ahead; Date.now by default. */
  now?: () => number;
  /** Connections in the pool (default 10). */
  poolSize?: number;
}

export { IDLE_IN_TRANSACTION_MS } from './pg-pool.js';

/** What changed in the devices table since a horizon (PgStore.deviceChangesSince). */
export interface DeviceChanges {
  horizon: string;
  changed: DeviceRecord[];
  removed: string[];
}

/**
 * Hearth's PostgreSQL storage (issue #16 section 1): HubStoreContract on a node-postgres Pool, readings in
 * day partitions with rollups upserted by each commit, and device ownership epochs for several hubs.
 * Constructing it does no I/O; open() connects and migrates.
 */
export class PgStore implements HubStoreContract {
  readonly #url: string;
  readonly #retention: RetentionPolicy;
  readonly #now: () => number;
  readonly #poolSize: number;
  #pool: pg.Pool | undefined;
  #beatPool: pg.Pool | undefined;
  #partitions: PgPartitions | undefined;
  #version = 0;
  /** (device, metric) -> series, cached: seriesId() is on the ingest path. */
  readonly #series = new Map<string, { id: number; type: ValueType }>();
  readonly firmware = new PgFirmware(() => this.#p);
  /** Several hubs on this database: liveness, presence, the owner table and commands between hubs. */
  readonly cluster = new PgCluster(() => this.#p, () => this.#url, () => this.#beatP);
  /** Users, dashboard sessions and the admin token, shared by every hub on this database. */
  readonly auth = new PgAuth(() => this.#p);
  /** Firmware image bytes, in the database so that every hub on it serves them [FP-14.3]. */
  readonly firmwareBytes = new PgImageBytes(() => this.#p);

  constructor(opts: PgStoreOptions) {
    this.#url = opts.url;
    this.#retention = { ...DEFAULT_RETENTION, ...opts.retention };
    this.#now = opts.now ?? Date.now;
    this.#poolSize = opts.poolSize ?? 10;
  }

  /** Connects and migrates; throws StoreError HUB_ERR_DB_TOO_NEW for a newer schema, leaving it untouched. */
  async open(): Promise<void> {
    if (this.#pool) return;
    const pool = newPool(this.#url, this.#poolSize);
    try {
      const client = await pool.connect().catch((err: Error) => {
        throw new StoreError('HUB_ERR_DB_UNREACHABLE', `cannot connect to PostgreSQL at ${pgAddress(this.#url)}: ${err.message || String(err)}`, { cause: err });
      });
      try {
        this.#version = await migratePg(client, new URL(this.#url).pathname.slice(1));
      } finally {
        client.release();
      }
      const partitions = new PgPartitions(pool);
      await partitions.open(this.#now());
      [this.#pool, this.#partitions] = [pool, partitions];
      this.#beatPool = newPool(this.#url, 1);
    } catch (err) {
      await pool.end();
      throw err;
    }
  }

  /** Ends the pool; safe to call twice or without open(). */
  async close(): Promise<void> {
    const [pool, beat] = [this.#pool, this.#beatPool];
    [this.#pool, this.#partitions, this.#beatPool] = [undefined, undefined, undefined];
    this.#series.clear();
    await Promise.all([pool?.end(), beat?.end()]);
  }

  /**
   * One connection of its own for the hub's beat (PgCluster.beat): behind a queue of slow queries on the main
   * pool (100,000 devices read at once), the beat timed out and the hub cut itself off from a database that
   * answered (bench devices100k).
   */
  get #beatP(): pg.Pool {
    if (!this.#beatPool) throw new StoreError('HUB_ERR_STORE_CLOSED', 'the PostgreSQL store is not open');
    return this.#beatPool;
  }

  get #p(): pg.Pool {
    if (!this.#pool) throw new StoreError('HUB_ERR_STORE_CLOSED', 'the PostgreSQL store is not open');
    return this.#pool;
  }

  /** The pool, for tools (hearth migrate) and tests that need SQL of their own. */
  get pool(): pg.Pool {
    return this.#p;
  }

  async #rows<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    return (await this.#p.query<R>(sql, params)).rows;
  }

  async #changed(sql: string, params: unknown[]): Promise<boolean> {
    return (await this.#p.query(sql, params)).rowCount === 1;
  }

  // ---- devices -------------------------------------------------------------------------------

  async addDevice(d: NewDevice): Promise<void> {
    try {
      await this.#p.query('INSERT INTO devices (id, name, type, token_salt, token_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)', [
        d.id, d.name, d.type, d.tokenSalt, d.tokenHash, d.createdAt,
      ]);
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw new StoreError('HUB_ERR_DEVICE_EXISTS', `device "${d.id}" already exists`, { cause: err });
      throw err;
    }
  }

  async getDevice(id: string): Promise<DeviceRecord | undefined> {
    const [row] = await this.#rows<DeviceRow>(`${SELECT_DEVICE} WHERE d.id = $1`, [id]);
    return row && toRecord(row);
  }

  async listDevices(): Promise<DeviceRecord[]> {
    return (await this.#rows<DeviceRow>(`${SELECT_DEVICE} ORDER BY d.id COLLATE "C"`)).map(toRecord);
  }

  /** Up to `limit` devices with ids after `after` (none: from the first), in the primary key's order. */
  async listDevicesPage(after: string | undefined, limit: number): Promise<DeviceRecord[]> {
    const rows = after === undefined
      ? await this.#rows<DeviceRow>(`${SELECT_DEVICE} ORDER BY d.id LIMIT $1`, [limit])
      : await this.#rows<DeviceRow>(`${SELECT_DEVICE} WHERE d.id > $1 ORDER BY d.id LIMIT $2`, [after, limit]);
    return rows.map(toRecord);
  }

  /**
   * The devices changed (added, edited, revoked, HELLO stored) and removed since `horizon`, a previous call's
   * answer, and the horizon for the next call; without one, only the horizon. The horizon is taken before
   * the reads, so nothing committed after it is missed (see migration 7); a device can come twice.
   */
  async deviceChangesSince(horizon: string | undefined): Promise<DeviceChanges> {
    const [{ next }] = (await this.#rows<{ next: string }>(`SELECT ${HORIZON} AS next`)) as [{ next: string }];
    if (horizon === undefined) return { horizon: next, changed: [], removed: [] };
    const changed = await this.#rows<DeviceRow>(`${SELECT_DEVICE} WHERE d.changed >= $1::xid8`, [horizon]);
    // Removed and not added again since (an id added again is in `changed`, with its new credentials).
    const removed = await this.#rows<{ device_id: string }>(
      'SELECT DISTINCT r.device_id FROM device_removals r WHERE r.changed >= $1::xid8 AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.id = r.device_id)',
      [horizon],
    );
    return { horizon: next, changed: changed.map(toRecord), removed: removed.map((r) => r.device_id) };
  }

  revokeDevice(id: string, at: number): Promise<boolean> {
    return this.#changed('UPDATE devices SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [at, id]);
  }

  /** Deletes the device, its readings and rollups (no foreign key on them) and, by cascade, everything else of it. */
  async removeDevice(id: string): Promise<boolean> {
    const client = await this.#p.connect();
    try {
      await client.query('BEGIN');
      for (const table of ['readings', 'rollup_minute', 'rollup_hour']) {
        await client.query(`DELETE FROM ${table} WHERE series IN (SELECT id FROM series WHERE device_id = $1)`, [id]);
      }
      const removed = (await client.query('DELETE FROM devices WHERE id = $1', [id])).rowCount === 1;
      await client.query('COMMIT');
      for (const key of this.#series.keys()) if (key.startsWith(`${id}\n`)) this.#series.delete(key);
      return removed;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  updateDeviceHello(id: string, hello: DeviceHello): Promise<boolean> {
    return this.#changed('UPDATE devices SET model = $1, firmware = $2, capabilities = $3, updates = $4 WHERE id = $5', [
      hello.model, hello.firmware, JSON.stringify(hello.capabilities), hello.updates === true, id,
    ]);
  }

  renameDevice(id: string, name: string): Promise<boolean> {
    return this.#changed('UPDATE devices SET name = $1 WHERE id = $2', [name, id]);
  }

  setDeviceRoom(id: string, room: string | null): Promise<boolean> {
    return this.#changed('UPDATE devices SET room = $1 WHERE id = $2', [room, id]);
  }

  // ---- ownership (fencing) -------------------------------------------------------------------

  /**
   * Makes `hubId` the owner of the device, connected, and returns the new epoch (1, 2, 3, ... one more on
   * every claim). The claim is announced on channel hearth_devices (CLAIMS_CHANNEL), so a hub that held the
   * device lets it go at once instead of at its next fenced commit.
   */
  async claimDevice(deviceId: string, hubId: string): Promise<number> {
    const [row] = await this.#rows<{ epoch: number }>(
      `WITH c AS (
         INSERT INTO device_owner (device_id, hub_id, epoch, connected) VALUES ($1, $2, 1, true)
         ON CONFLICT (device_id) DO UPDATE SET hub_id = excluded.hub_id, epoch = device_owner.epoch + 1, connected = true
         RETURNING epoch)
       SELECT epoch, pg_notify('${CLAIMS_CHANNEL}', $1::text || ' ' || $2::text || ' ' || epoch || ' 1') FROM c`,
      [deviceId, hubId],
    );
    return row!.epoch;
  }

  /** Who holds the device now, or undefined if no hub ever claimed it. */
  async owner(deviceId: string): Promise<{ hubId: string; epoch: number } | undefined> {
    const [row] = await this.#rows<{ hub_id: string; epoch: number }>('SELECT hub_id, epoch FROM device_owner WHERE device_id = $1', [deviceId]);
    return row && { hubId: row.hub_id, epoch: row.epoch };
  }

  // ---- sequence state and readings -----------------------------------------------------------

  async committedSeqs(): Promise<Map<string, number>> {
    const rows = await this.#rows<{ id: string; seq: number }>(
      'SELECT d.id, coalesce(s.seq, 0) AS seq FROM devices d LEFT JOIN device_state s ON s.device_id = d.id',
    );
    return new Map(rows.map((r) => [r.id, r.seq]));
  }

  async committedSeq(id: string): Promise<number> {
    const [row] = await this.#rows<{ seq: number }>('SELECT seq FROM device_state WHERE device_id = $1', [id]);
    return row?.seq ?? 0;
  }

  /**
   * Id of the (device, metric) series, created on first use; a changed value type is recorded (rows keep
   * theirs). A cached series is answered at once, not as a Promise: ingest calls this for every frame.
   */
  seriesId(deviceId: string, metric: string, valueType: ValueType): number | Promise<number> {
    const hit = this.#series.get(`${deviceId}\n${metric}`);
    return hit?.type === valueType ? hit.id : this.#resolveSeries(deviceId, metric, valueType);
  }

  async #resolveSeries(deviceId: string, metric: string, valueType: ValueType): Promise<number> {
    const key = `${deviceId}\n${metric}`;
    // One statement for find, create and retype: several hubs may resolve the same series at once.
    const [row] = await this.#rows<{ id: number }>(
      `INSERT INTO series (device_id, metric, value_type) VALUES ($1, $2, $3)
       ON CONFLICT (device_id, metric) DO UPDATE SET value_type = excluded.value_type RETURNING id`,
      [deviceId, metric, valueType],
    );
    this.#series.set(key, { id: row!.id, type: valueType });
    return row!.id;
  }

  /** Commits readings, rollups, events, seqs and lastSeen in ONE transaction; with a fence, refuses (FencedError) a batch of a device another hub claimed. */
  async commit(batch: CommitBatch, fence?: Fence): Promise<void> {
    const days = new Set<number>();
    for (const r of batch.readings) if (r.ts >= 0 && Number.isSafeInteger(r.ts)) days.add(dayOf(r.ts));
    await this.#partitions!.ensure(days);
    await commitBatch(this.#p, batch, fence);
  }

  /** Creates the day partitions of `days` (day numbers, see dayOf) not known yet: for bulk copies (hearth migrate). */
  async ensurePartitions(days: Iterable<number>): Promise<void> {
    await this.#partitions!.ensure(days);
  }

  async #findSeries(deviceId: string, metric: string): Promise<{ id: number; type: ValueType } | undefined> {
    const [row] = await this.#rows<{ id: number; value_type: ValueType }>('SELECT id, value_type FROM series WHERE device_id = $1 AND metric = $2', [deviceId, metric]);
    return row && { id: row.id, type: row.value_type };
  }

  /** Raw points in (ts, value) order, or rollup buckets whose start lies in [bucketOf(from), to]; [] for unknown. */
  async history(q: HistoryQuery): Promise<HistoryPoint[]> {
    if (!(q.limit > 0) || q.from > q.to) return [];
    const s = await this.#findSeries(q.deviceId, q.metric);
    if (!s) return [];
    if (q.step === 'raw') {
      const rows = await this.#rows<{ ts: number; num: number | null; txt: string | null }>(
        'SELECT ts, num, txt FROM readings WHERE series = $1 AND ts BETWEEN $2 AND $3 ORDER BY ts, num, txt COLLATE "C" LIMIT $4',
        [s.id, q.from, q.to, q.limit],
      );
      return rows.map((r) => ({ ts: r.ts, value: native(r.num, r.txt) }));
    }
    return isNumeric(s.type) ? rolledHistory(this.#p, s.id, q.step, q.from, q.to, q.limit) : [];
  }

  /**
   * Rolls the readings of closed minutes (before `upTo`, default now) into the minute and hour rollups:
   * run it every few seconds, as SQLite's compaction runs (history is exact either way; this keeps its
   * queries short). Returns the milliseconds of readings it covered.
   */
  async rollupStep(upTo = this.#now()): Promise<number> {
    const client = await this.#p.connect();
    try {
      return await rollupStep(client, upTo);
    } finally {
      client.release();
    }
  }

  /** The newest stored value of each metric of a device, by metric name (one index probe per series). */
  async latest(deviceId: string): Promise<LatestValue[]> {
    return (await readLatest(this.#p, 's.device_id = $1', [deviceId])).latest.get(deviceId) ?? [];
  }

  /** latest() of each of these devices, in one query; a device without readings is absent. */
  async latestMany(deviceIds: readonly string[]): Promise<Map<string, LatestValue[]>> {
    if (deviceIds.length === 0) return new Map();
    return (await readLatest(this.#p, 's.device_id = ANY ($1::text[])', [deviceIds])).latest;
  }

  // ---- events and commands -------------------------------------------------------------------

  async events(deviceId: string, from: number, to: number, limit: number): Promise<StoredEvent[]> {
    const rows = await this.#rows<{ name: string; ts: number; value_type: ValueType; num: number | null; txt: string | null }>(
      'SELECT name, ts, value_type, num, txt FROM events WHERE device_id = $1 AND ts BETWEEN $2 AND $3 ORDER BY ts DESC, id DESC LIMIT $4',
      [deviceId, from, to, limit],
    );
    return rows.map((r) => ({ name: r.name, ts: r.ts, value: fromNative(r.value_type, native(r.num, r.txt)) }));
  }

  async logCommand(c: NewCommand): Promise<number> {
    const [num, txt] = valueColumns(c.value);
    const [row] = await this.#rows<{ id: number }>(
      'INSERT INTO commands (device_id, command, value_type, num, txt, source, sent_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id',
      [c.deviceId, c.command, c.value.type, num, txt, c.source, c.sentAt],
    );
    return row!.id;
  }

  finishCommand(id: number, status: CommandLogStatus, message: string, at: number): Promise<boolean> {
    return this.#changed('UPDATE commands SET status = $1, message = $2, finished_at = $3 WHERE id = $4 AND status IS NULL', [status, message, at, id]);
  }

  async commands(deviceId: string, limit: number): Promise<CommandLogEntry[]> {
    const rows = await this.#rows<{
      id: number; device_id: string; command: string; value_type: ValueType; num: number | null; txt: string | null;
      source: string; sent_at: number; status: string | null; message: string | null; finished_at: number | null;
    }>('SELECT * FROM commands WHERE device_id = $1 ORDER BY id DESC LIMIT $2', [deviceId, limit]);
    return rows.map((r) => ({
      id: r.id, deviceId: r.device_id, command: r.command, value: fromNative(r.value_type, native(r.num, r.txt)), source: r.source,
      sentAt: r.sent_at, status: r.status, message: r.message, finishedAt: r.finished_at,
    }));
  }

  // ---- housekeeping --------------------------------------------------------------------------

  /**
   * One bounded retention step: drops readings partitions wholly older than rawMs (each counts 1), then
   * deletes at most the remaining budget of expired events and rollup rows; returns how much it removed.
   */
  async retentionStep(maxRows = 5_000): Promise<number> {
    const now = this.#now();
    const rawCut = now - this.#retention.rawMs;
    const rollupCut = now - this.#retention.rollupMs;
    let budget = maxRows;
    await this.rollupStep(now); // a partition's readings are in the rollups before it goes
    budget -= await this.#partitions!.dropBefore(rawCut, budget);
    if (budget > 0) {
      budget -= (await this.#p.query('DELETE FROM events WHERE id IN (SELECT id FROM events WHERE ts < $1 ORDER BY ts LIMIT $2)', [rawCut, budget])).rowCount ?? 0;
    }
    for (const table of ['rollup_minute', 'rollup_hour']) {
      if (budget <= 0) break;
      const sql = `DELETE FROM ${table} WHERE (series, bucket) IN (SELECT series, bucket FROM ${table} WHERE bucket < $1 ORDER BY bucket LIMIT $2)`;
      budget -= (await this.#p.query(sql, [rollupCut, budget])).rowCount ?? 0;
    }
    await this.#p.query("DELETE FROM device_removals WHERE removed_at < now() - interval '7 days'"); // see migration 7
    await this.#partitions!.ensure([dayOf(now), dayOf(now) + 1]); // the day ahead, made off the commit path
    return maxRows - budget;
  }

  /** Database size, and readings counted exactly (a full scan: for tools and tests, not a hot path). */
  async stats(): Promise<StoreStats> {
    const [row] = await this.#rows<{ bytes: number; readings: number; partitions: number }>(
      `SELECT pg_database_size(current_database()) AS bytes, (SELECT count(*) FROM readings) AS readings,
              (SELECT count(*) FROM pg_inherits WHERE inhparent = 'readings'::regclass) AS partitions`,
    );
    return { bytes: row!.bytes, pendingLogRows: 0, chunks: row!.partitions, storedReadings: row!.readings };
  }

  /** Bytes of the readings partitions with their indexes, and how many readings they hold. */
  async readingsSize(): Promise<{ bytes: number; readings: number }> {
    const [row] = await this.#rows<{ bytes: number | null; readings: number }>(
      `SELECT (SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits WHERE inhparent = 'readings'::regclass) AS bytes,
              (SELECT count(*) FROM readings) AS readings`,
    );
    return { bytes: row!.bytes ?? 0, readings: row!.readings };
  }

  schemaVersion(): number {
    void this.#p; // throws HUB_ERR_STORE_CLOSED when closed
    return this.#version;
  }
}
