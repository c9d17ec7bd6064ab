import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { migrate, openDatabase, userVersion } from './database.js';
import { StoreError } from './errors.js';
import { CHUNK_RANGE_SQL } from './history.js';
import { HubStore } from './hub-store.js';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations/index.js';
import { rollupRangeSql } from './rollups.js';
import { StoreFixture, newDevice } from './testing/store-fixture.js';
import { COMMAND_LOG_STATUSES } from './types.js';

const fx = new StoreFixture();
afterAll(() => fx.cleanup());

function schemaOf(db: Database.Database): unknown[] {
  return db.prepare("SELECT type, name, sql FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY name").all();
}

function planOf(db: Database.Database, sql: string, params: unknown[]): string {
  return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as Array<{ detail: string }>).map((r) => r.detail).join('\n');
}

/** A database file migrated up to `version` only, holding device d1, and a raw connection to it (the caller closes it). */
function databaseAtVersion(version: number): { path: string; raw: Database.Database } {
  const path = join(fx.dir(), `v${version}.db`);
  const raw = new Database(path);
  for (const m of MIGRATIONS.slice(0, version)) raw.exec(m.sql);
  raw.pragma(`user_version = ${version}`);
  raw.prepare("INSERT INTO devices (id, name, type, token_salt, token_hash, created_at) VALUES ('d1', 'D', 't', 's', 'h', 1)").run();
  return { path, raw };
}

describe('migrations', () => {
  it('0003 adds a nullable room to a database of version 2 with devices, keeping them; the CHECK bounds it', () => {
    const { path, raw } = databaseAtVersion(2);
    raw.close();
    const store = new HubStore({ path });
    store.open();
    try {
      expect(store.getDevice('d1')).toMatchObject({ id: 'd1', name: 'D', room: null });
      expect(store.setDeviceRoom('d1', 'Kitchen')).toBe(true);
      expect(store.getDevice('d1')!.room).toBe('Kitchen');
      expect(() => store.setDeviceRoom('d1', '')).toThrow(/CHECK/);
      expect(() => store.setDeviceRoom('d1', 'x'.repeat(65))).toThrow(/CHECK/);
      expect(store.setDeviceRoom('d1', null)).toBe(true);
      expect(store.getDevice('d1')!.room).toBeNull();
      expect(store.setDeviceRoom('nope', 'Hall')).toBe(false);
    } finally {
      store.close();
    }
  });

  it('0007 rekeys the rollups (bucket, series) and indexes chunks by (series, t_min), keeping every row a version-6 database holds', () => {
    const { path, raw } = databaseAtVersion(6);
    const s = Number(raw.prepare("INSERT INTO series (device_id, metric, value_type) VALUES ('d1', 'temp', 'float')").run().lastInsertRowid);
    for (const [bucket, min] of [[120_000, 3], [60_000, 1]] as const) {
      raw.prepare('INSERT INTO rollup_minute (series, bucket, min, max, sum, count) VALUES (?, ?, ?, ?, ?, ?)').run(s, bucket, min, min + 1, 2 * min + 1, 2);
    }
    raw.prepare('INSERT INTO rollup_hour (series, bucket, min, max, sum, count) VALUES (?, 0, 1, 4, 10, 4)').run(s);
    raw.close();
    const store = new HubStore({ path });
    store.open();
    try {
      const q = { deviceId: 'd1', metric: 'temp', from: 0, to: 3_600_000, limit: 10 } as const;
      expect(store.history({ ...q, step: 'minute' })).toEqual([
        { ts: 60_000, min: 1, max: 2, mean: 1.5, count: 2 },
        { ts: 120_000, min: 3, max: 4, mean: 3.5, count: 2 },
      ]);
      expect(store.history({ ...q, step: 'hour' })).toEqual([{ ts: 0, min: 1, max: 4, mean: 2.5, count: 4 }]);
      const names = new Set(store.spaceUsage().map((t) => t.name));
      for (const name of ['chunks_series_tmin', 'rollup_minute_series', 'rollup_hour_series']) expect(names).toContain(name);
      expect(names).not.toContain('chunks_series_tmax');
      // The cascade from a removed device still reaches the rekeyed tables through their series index.
      expect(store.removeDevice('d1')).toBe(true);
    } finally {
      store.close();
    }
    const check = new Database(path, { readonly: true });
    try {
      expect(check.prepare('SELECT (SELECT count(*) FROM rollup_minute) + (SELECT count(*) FROM rollup_hour)').pluck().get()).toBe(0);
      expect(check.pragma('foreign_key_check')).toEqual([]);
    } finally {
      check.close();
    }
  });

  it('are numbered 1, 2, 3, ... with no gaps', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
  });

  it('run once on a new file and set user_version', () => {
    const path = join(fx.dir(), 'nested', 'dir', 'hub.db');
    const db = openDatabase(path);
    try {
      expect(userVersion(db)).toBe(SCHEMA_VERSION);
      const before = schemaOf(db);
      expect(before.length).toBeGreaterThan(10);
      migrate(db); // a second run must find nothing to do (re-running CREATE TABLE would throw)
      expect(schemaOf(db)).toEqual(before);
      expect(userVersion(db)).toBe(SCHEMA_VERSION);
    } finally {
      db.close();
    }
    const again = openDatabase(path);
    try {
      expect(userVersion(again)).toBe(SCHEMA_VERSION);
    } finally {
      again.close();
    }
  });

  it('refuse a database newer than the code with HUB_ERR_DB_TOO_NEW and leave it untouched', () => {
    const path = join(fx.dir(), 'hub.db');
    const raw = new Database(path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    const store = new HubStore({ path });
    let caught: unknown;
    try {
      store.open();
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(StoreError);
    expect((caught as StoreError).code).toBe('HUB_ERR_DB_TOO_NEW');
    expect((caught as StoreError).message).toMatch(/newer than/);
    const check = new Database(path);
    expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION + 1);
    expect(check.prepare("SELECT count(*) AS n FROM sqlite_schema").get()).toEqual({ n: 0 });
    check.close();
    store.close(); // never opened: still safe
  });

  it('open with WAL, the asked synchronous mode, foreign keys and a busy timeout', () => {
    for (const [mode, level] of [['NORMAL', 1], ['FULL', 2]] as const) {
      const db = openDatabase(join(fx.dir(), 'hub.db'), mode);
      try {
        expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
        expect(db.pragma('synchronous', { simple: true })).toBe(level);
        expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
        expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
      } finally {
        db.close();
      }
    }
  });
});

describe('query plans use the indexes', () => {
  const db = openDatabase(join(fx.dir(), 'plans.db'));
  afterAll(() => {
    db.close();
  });

  it.each([
    ['history chunk range', CHUNK_RANGE_SQL, [{ series: 1, from: 0, to: 1000, span: 10 }], /SEARCH chunks USING INDEX chunks_series_tmin \(series=\? AND t_min>\? AND t_min<\?\)/],
    ['minute rollup range', rollupRangeSql('rollup_minute'), [1, 0, 1000, 10], /SEARCH rollup_minute USING (COVERING )?INDEX rollup_minute_series \(series=\? AND bucket>\? AND bucket<\?\)/],
    ['hour rollup range', rollupRangeSql('rollup_hour'), [1, 0, 1000, 10], /SEARCH rollup_hour USING (COVERING )?INDEX rollup_hour_series \(series=\? AND bucket>\? AND bucket<\?\)/],
    [
      'rollup retention',
      'SELECT bucket, series FROM rollup_minute WHERE bucket < ? ORDER BY bucket LIMIT ?',
      [0, 10],
      /SEARCH rollup_minute USING PRIMARY KEY \(bucket<\?\)/,
    ],
    ['chunk retention', 'SELECT id FROM chunks WHERE t_max < ? ORDER BY t_max LIMIT ?', [0, 10], /SEARCH chunks USING (COVERING )?INDEX chunks_tmax \(t_max<\?\)/],
    ['event retention', 'SELECT id FROM events WHERE ts < ? ORDER BY ts LIMIT ?', [0, 10], /SEARCH events USING (COVERING )?INDEX events_ts \(ts<\?\)/],
    [
      'events of a device',
      'SELECT name, ts FROM events WHERE device_id = ? AND ts BETWEEN ? AND ? ORDER BY ts DESC, id DESC LIMIT ?',
      ['d', 0, 1, 10],
      /SEARCH events USING INDEX events_device_ts \(device_id=\? AND ts>\? AND ts<\?\)/,
    ],
    ['commands of a device', 'SELECT * FROM commands WHERE device_id = ? ORDER BY id DESC LIMIT ?', ['d', 10], /USING INDEX commands_device_id \(device_id=\?\)/],
    [
      'newest chunk of a series',
      'SELECT id, n, t_min AS tMin, data FROM chunks WHERE series = ? ORDER BY t_min DESC LIMIT 1',
      [1],
      /SEARCH chunks USING INDEX chunks_series_tmin \(series=\?\)/,
    ],
  ])('%s', (_name, sql, params, expected) => {
    const plan = planOf(db, sql, params);
    expect(plan).toMatch(expected);
    expect(plan).not.toMatch(/USE TEMP B-TREE/);
  });
});

describe('constraints are the last net', () => {
  const store = fx.open();

  it.each(['', 'has space', 'slash/no', 'ümlaut', 'x'.repeat(65)])('device id %j is refused by the CHECK [FP-2.1]', (id) => {
    expect(() => store.addDevice(newDevice(id))).toThrow(/CHECK constraint failed/);
  });

  it.each(['a', 'A-Z_0.9', 'x'.repeat(64)])('device id %j is accepted', (id) => {
    store.addDevice(newDevice(id));
    expect(store.getDevice(id)?.id).toBe(id);
  });

  it('the commands status CHECK accepts exactly COMMAND_LOG_STATUSES', () => {
    for (const status of COMMAND_LOG_STATUSES) {
      const id = store.logCommand({ deviceId: 'a', command: 'power', value: { type: 'bool', value: true }, source: 'test', sentAt: 1 });
      expect(store.finishCommand(id, status, '', 2)).toBe(true);
    }
    const id = store.logCommand({ deviceId: 'a', command: 'power', value: { type: 'bool', value: true }, source: 'test', sentAt: 1 });
    expect(() => store.finishCommand(id, 'nonsense' as never, '', 2)).toThrow(/CHECK constraint failed/);
  });
});
