import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import type { Capability } from '../../protocol/types.js';
import { StoreError } from './errors.js';
import { HubStore } from './hub-store.js';
import { StoreFixture, batchOf, float, int, newDevice } from './testing/store-fixture.js';
import type { CommitBatch } from './types.js';

const fx = new StoreFixture();
afterAll(() => fx.cleanup());

const T0 = 1_700_000_000_000;
const CAPS: Capability[] = [
  { id: 1, name: 'temperature', unit: '°C', valueType: 'float', deviceClass: 'temperature', writable: false, event: false, min: -40, max: 85 },
  { id: 2, name: 'mode', unit: '', valueType: 'enum', deviceClass: '', writable: true, event: false, options: ['off', 'heat'] },
];

function storeAt(path: string): HubStore {
  const store = fx.track(new HubStore({ path }));
  store.open();
  return store;
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as StoreError).code;
  }
  return undefined;
}

describe('devices', () => {
  it('add, get and list (ordered by id)', () => {
    const store = fx.open();
    store.addDevice(newDevice('b-2', T0));
    store.addDevice(newDevice('a-1', T0 + 1));
    expect(store.getDevice('a-1')).toEqual({
      id: 'a-1', name: 'Device a-1', type: 'sensor', tokenSalt: 'salt', tokenHash: 'hash',
      model: '', firmware: '', capabilities: [], createdAt: T0 + 1, lastSeen: null, revokedAt: null, room: null,
    });
    expect(store.getDevice('nope')).toBeUndefined();
    expect(store.listDevices().map((d) => d.id)).toEqual(['a-1', 'b-2']);
  });

  it('refuses a duplicate id with HUB_ERR_DEVICE_EXISTS, even when revoked', () => {
    const store = fx.open();
    store.addDevice(newDevice('dup'));
    expect(codeOf(() => store.addDevice(newDevice('dup')))).toBe('HUB_ERR_DEVICE_EXISTS');
    expect(store.revokeDevice('dup', T0)).toBe(true);
    expect(codeOf(() => store.addDevice(newDevice('dup')))).toBe('HUB_ERR_DEVICE_EXISTS');
  });

  it('revokes once; unknown or already revoked is false', () => {
    const store = fx.open();
    store.addDevice(newDevice('r'));
    expect(store.revokeDevice('r', T0 + 5)).toBe(true);
    expect(store.getDevice('r')?.revokedAt).toBe(T0 + 5);
    expect(store.revokeDevice('r', T0 + 9)).toBe(false);
    expect(store.getDevice('r')?.revokedAt).toBe(T0 + 5);
    expect(store.revokeDevice('ghost', T0)).toBe(false);
  });

  it('stores HELLO details and renames', () => {
    const store = fx.open();
    store.addDevice(newDevice('h'));
    expect(store.updateDeviceHello('h', { model: 'TH-1', firmware: '1.2.3', capabilities: CAPS })).toBe(true);
    expect(store.renameDevice('h', 'Kitchen')).toBe(true);
    expect(store.getDevice('h')).toMatchObject({ model: 'TH-1', firmware: '1.2.3', capabilities: CAPS, name: 'Kitchen' });
    expect(store.updateDeviceHello('ghost', { model: '', firmware: '', capabilities: [] })).toBe(false);
    expect(store.renameDevice('ghost', 'x')).toBe(false);
  });

  it('removes a device with all its data and leaves the others alone', () => {
    const store = fx.open();
    const ids = ['gone', 'kept'];
    for (const id of ids) {
      store.addDevice(newDevice(id));
      const s = store.seriesId(id, 'temperature', 'float');
      store.commit({
        ...batchOf([{ series: s, ts: T0, value: float(1) }, { series: s, ts: T0 + 1, value: float(2) }], { [id]: 2 }, { [id]: T0 }),
        events: [{ deviceId: id, name: 'button', ts: T0, value: { type: 'enum', value: 1 } }],
      });
      store.logCommand({ deviceId: id, command: 'mode', value: { type: 'enum', value: 1 }, source: 'test', sentAt: T0 });
    }
    store.compactStep(); // two readings of each in chunks and rollups, the third in the log
    for (const id of ids) store.commit(batchOf([{ series: store.seriesId(id, 'temperature', 'float'), ts: T0 + 2, value: float(3) }], { [id]: 3 }));
    const before = store.stats();
    expect(before).toMatchObject({ pendingLogRows: 2, storedReadings: 6 });
    const stale = store.seriesId('gone', 'temperature', 'float');
    expect(store.removeDevice('gone')).toBe(true);
    expect(store.removeDevice('gone')).toBe(false);
    expect(store.getDevice('gone')).toBeUndefined();
    expect(store.committedSeqs()).toEqual(new Map([['kept', 3]]));
    const q = { metric: 'temperature', from: 0, to: T0 + 10, limit: 100 } as const;
    expect(store.history({ ...q, deviceId: 'gone', step: 'raw' })).toEqual([]);
    expect(store.latest('gone')).toEqual([]);
    expect(store.events('gone', 0, T0 + 10, 10)).toEqual([]);
    expect(store.commands('gone', 10)).toEqual([]);
    expect(store.stats()).toMatchObject({ pendingLogRows: before.pendingLogRows - 1, storedReadings: before.storedReadings - 3 });
    expect(store.history({ ...q, deviceId: 'kept', step: 'raw' }).map((p) => p.value)).toEqual([1, 2, 3]);
    expect(store.history({ ...q, deviceId: 'kept', step: 'minute' })).toHaveLength(1);
    expect(store.events('kept', 0, T0 + 10, 10)).toHaveLength(1);
    expect(store.commands('kept', 10)).toHaveLength(1);
    // A series id the ingest still holds for the removed device: the batch commits, those rows are dropped.
    const keptSeries = store.seriesId('kept', 'temperature', 'float');
    expect(stale).not.toBe(keptSeries);
    store.commit(batchOf([{ series: stale, ts: T0 + 5, value: float(9) }, { series: keptSeries, ts: T0 + 5, value: float(4) }], { gone: 9, kept: 4 }));
    expect(store.committedSeqs()).toEqual(new Map([['kept', 4]]));
    expect(store.compactStep()).toBe(3); // kept's third reading, the stale row, kept's fourth
    expect(store.stats().pendingLogRows).toBe(0);
    expect(store.history({ ...q, deviceId: 'kept', step: 'raw' }).map((p) => p.value)).toEqual([1, 2, 3, 4]);
  });
});

describe('commit', () => {
  function setup(): { store: HubStore; path: string; s: number } {
    const path = join(fx.dir(), 'hub.db');
    const store = storeAt(path);
    store.addDevice(newDevice('d1'));
    store.addDevice(newDevice('d2'));
    return { store, path, s: store.seriesId('d1', 'temperature', 'float') };
  }

  it.each<[string, (s: number) => CommitBatch]>([
    ['a reading with a negative ts (CHECK ts >= 0)', (s) => batchOf([{ series: s, ts: T0, value: float(1) }, { series: s, ts: -1, value: float(2) }], { d1: 2 })],
    ['a NaN float (NOT NULL: SQLite stores NaN as NULL)', (s) => batchOf([{ series: s, ts: T0, value: float(1) }, { series: s, ts: T0, value: float(NaN) }], { d1: 2 })],
    ['a ts beyond a varint (CHECK ts <= 2^53-1)', (s) => batchOf([{ series: s, ts: 2 ** 53 + 2, value: float(1) }], { d1: 2 })],
    [
      'a string over 255 bytes (CHECK on the log)',
      (s) => batchOf([{ series: s, ts: T0, value: float(1) }, { series: s, ts: T0, value: { type: 'string', value: 'é'.repeat(128) } }], { d1: 2 }),
    ],
    ['a negative seq (CHECK seq >= 0)', (s) => batchOf([{ series: s, ts: T0, value: float(1) }], { d2: 7, d1: -1 })],
    [
      'an event with a negative ts',
      (s) => ({ ...batchOf([{ series: s, ts: T0, value: float(1) }], { d1: 2 }), events: [{ deviceId: 'd1', name: 'e', ts: -5, value: int(1) }] }),
    ],
  ])('is atomic [FP-8.2]: a batch with %s stores nothing, not even the seqs', (_name, make) => {
    const { store, s } = setup();
    store.commit(batchOf([{ series: s, ts: T0 - 1, value: float(0) }], { d1: 1 }, { d1: T0 - 1 }));
    const before = store.stats();
    expect(() => store.commit(make(s))).toThrow(/constraint failed/);
    expect(store.stats()).toEqual(before);
    expect(store.committedSeqs()).toEqual(new Map([['d1', 1], ['d2', 0]]));
    expect(store.getDevice('d1')?.lastSeen).toBe(T0 - 1);
    expect(store.events('d1', 0, T0 * 2, 10)).toEqual([]);
    // and the store keeps working
    store.commit(batchOf([{ series: s, ts: T0, value: float(5) }], { d1: 2 }));
    expect(store.committedSeq('d1')).toBe(2);
  });

  it('keeps seqs and lastSeen across close and reopen [FP-8.4]', () => {
    const { store, path, s } = setup();
    store.commit(batchOf([{ series: s, ts: T0, value: float(1) }], { d1: 41 }, { d1: T0 + 3, d2: T0 + 4 }));
    store.commit(batchOf([{ series: s, ts: T0 + 1, value: float(1) }], { d1: 42 }, { d1: T0 + 5 }));
    store.close();
    const again = storeAt(path);
    expect(again.committedSeqs()).toEqual(new Map([['d1', 42], ['d2', 0]]));
    expect(again.committedSeq('d1')).toBe(42);
    expect(again.committedSeq('d2')).toBe(0);
    expect(again.committedSeq('ghost')).toBe(0);
    expect(again.getDevice('d1')?.lastSeen).toBe(T0 + 5);
    expect(again.getDevice('d2')?.lastSeen).toBe(T0 + 4);
    expect(again.stats().pendingLogRows).toBe(2);
  });

  it('stores values natively: bool/int/enum INTEGER, float REAL, string TEXT', () => {
    const { store, path } = setup();
    const ids = {
      bool: store.seriesId('d1', 'on', 'bool'),
      int: store.seriesId('d1', 'count', 'int'),
      float: store.seriesId('d1', 'temp', 'float'),
      string: store.seriesId('d1', 'status', 'string'),
      enum: store.seriesId('d1', 'mode', 'enum'),
    };
    store.commit(batchOf([
      { series: ids.bool, ts: T0, value: { type: 'bool', value: true } },
      { series: ids.int, ts: T0, value: int(-7) },
      { series: ids.float, ts: T0, value: float(21) },
      { series: ids.string, ts: T0, value: { type: 'string', value: 'ok' } },
      { series: ids.enum, ts: T0, value: { type: 'enum', value: 3 } },
    ], { d1: 1 }));
    const raw = new Database(path, { readonly: true });
    try {
      const rows = raw.prepare('SELECT series, typeof(value) AS t, value FROM log ORDER BY series, rowid').all();
      expect(rows).toEqual([
        { series: ids.bool, t: 'integer', value: 1 },
        { series: ids.int, t: 'integer', value: -7 },
        { series: ids.float, t: 'real', value: 21 },
        { series: ids.string, t: 'text', value: 'ok' },
        { series: ids.enum, t: 'integer', value: 3 },
      ]);
    } finally {
      raw.close();
    }
  });

  it('stores a batch of many rows (several multi-row inserts and a remainder) whole, each series in order', () => {
    const path = join(fx.dir(), 'hub.db');
    const store = fx.track(new HubStore({ path }));
    store.open();
    store.addDevice(newDevice('d1'));
    const f = store.seriesId('d1', 'temp', 'float');
    const n = store.seriesId('d1', 'count', 'int');
    // 301 readings of each kind, interleaved: 4 statements of 64 rows and 45 single rows per kind.
    const readings = Array.from({ length: 301 }, (_, i) => [
      { series: f, ts: T0 + i, value: float(i / 2) },
      { series: n, ts: T0 + i, value: int(0 - i || 0) },
    ]).flat();
    store.commit(batchOf(readings, { d1: 1 }));
    const raw = new Database(path, { readonly: true });
    try {
      const rows = raw.prepare('SELECT series, ts, typeof(value) AS t, value FROM log ORDER BY rowid').all() as { series: number; ts: number; t: string; value: number }[];
      expect(rows).toHaveLength(602);
      for (const [series, t, value] of [[f, 'real', (i: number) => i / 2], [n, 'integer', (i: number) => 0 - i || 0]] as const) {
        const mine = rows.filter((r) => r.series === series);
        expect(mine.map((r) => r.ts)).toEqual(Array.from({ length: 301 }, (_, i) => T0 + i));
        expect(mine.every((r) => r.t === t)).toBe(true);
        expect(mine.map((r) => r.value)).toEqual(Array.from({ length: 301 }, (_, i) => value(i)));
      }
    } finally {
      raw.close();
    }
  });
});

describe('seriesId', () => {
  it('creates a series once and returns the same id, also after reopening', () => {
    const path = join(fx.dir(), 'hub.db');
    const store = storeAt(path);
    store.addDevice(newDevice('d'));
    const a = store.seriesId('d', 'temperature', 'float');
    expect(store.seriesId('d', 'temperature', 'float')).toBe(a);
    const b = store.seriesId('d', 'humidity', 'float');
    expect(b).not.toBe(a);
    store.close();
    const again = storeAt(path);
    expect(again.seriesId('d', 'temperature', 'float')).toBe(a);
    expect(again.seriesId('d', 'humidity', 'float')).toBe(b);
  });

  it('refuses a series of an unknown device (foreign key)', () => {
    const store = fx.open();
    expect(() => store.seriesId('ghost', 'x', 'int')).toThrow(/FOREIGN KEY/);
  });

  it('keeps the history of a metric whose value type changed (log rows compacted under the old type)', () => {
    const store = fx.open();
    store.addDevice(newDevice('d'));
    const s = store.seriesId('d', 'level', 'int');
    store.commit(batchOf([{ series: s, ts: T0, value: int(5) }, { series: s, ts: T0 + 1, value: int(6) }], { d: 1 }));
    expect(store.seriesId('d', 'level', 'string')).toBe(s);
    expect(store.stats().pendingLogRows).toBe(0);
    expect(store.latest('d')).toEqual([]); // an int is no value of a string metric
    store.commit(batchOf([{ series: s, ts: T0 + 2, value: { type: 'string', value: 'high' } }], { d: 2 }));
    const q = { deviceId: 'd', metric: 'level', from: 0, to: T0 + 10, limit: 10 } as const;
    expect(store.history({ ...q, step: 'raw' })).toEqual([{ ts: T0, value: 5 }, { ts: T0 + 1, value: 6 }, { ts: T0 + 2, value: 'high' }]);
    store.compactStep();
    expect(store.history({ ...q, step: 'raw' })).toEqual([{ ts: T0, value: 5 }, { ts: T0 + 1, value: 6 }, { ts: T0 + 2, value: 'high' }]);
    expect(store.history({ ...q, step: 'minute' })).toEqual([]); // string series have no rollups
    expect(store.latest('d')).toEqual([{ metric: 'level', ts: T0 + 2, value: { type: 'string', value: 'high' } }]);
  });
});

describe('latest', () => {
  it('is the newest reading per metric, compacted or still in the log; an older late reading does not win', () => {
    const store = fx.open();
    store.addDevice(newDevice('d'));
    const temp = store.seriesId('d', 'temperature', 'float');
    const mode = store.seriesId('d', 'mode', 'enum');
    const on = store.seriesId('d', 'on', 'bool');
    store.seriesId('d', 'never', 'int');
    expect(store.latest('d')).toEqual([]);
    store.commit(batchOf([
      { series: temp, ts: T0 + 10, value: float(20.5) },
      { series: temp, ts: T0 + 20, value: float(21.5) },
      { series: mode, ts: T0 + 10, value: { type: 'enum', value: 1 } },
      { series: on, ts: T0 + 10, value: { type: 'bool', value: true } },
    ], { d: 1 }));
    const expected = [
      { metric: 'mode', ts: T0 + 10, value: { type: 'enum', value: 1 } },
      { metric: 'on', ts: T0 + 10, value: { type: 'bool', value: true } },
      { metric: 'temperature', ts: T0 + 20, value: float(21.5) },
    ];
    expect(store.latest('d')).toEqual(expected); // from the log
    store.compactStep();
    expect(store.latest('d')).toEqual(expected); // from series_latest
    store.commit(batchOf([
      { series: temp, ts: T0 + 15, value: float(99) }, // late, older: not the latest
      { series: mode, ts: T0 + 30, value: { type: 'enum', value: 0 } },
    ], { d: 2 }));
    const mixed = [{ ...expected[0]!, ts: T0 + 30, value: { type: 'enum', value: 0 } }, expected[1], expected[2]];
    expect(store.latest('d')).toEqual(mixed);
    store.compactStep();
    expect(store.latest('d')).toEqual(mixed);
    expect(store.latest('ghost')).toEqual([]);
  });
});

describe('events', () => {
  it('are returned newest first within [from, to], at most limit, with typed values', () => {
    const store = fx.open();
    store.addDevice(newDevice('d'));
    store.addDevice(newDevice('other'));
    const events = [
      { deviceId: 'd', name: 'button', ts: T0 + 1, value: { type: 'enum', value: 2 } },
      { deviceId: 'd', name: 'motion', ts: T0 + 2, value: { type: 'bool', value: false } },
      { deviceId: 'd', name: 'note', ts: T0 + 3, value: { type: 'string', value: 'hi' } },
      { deviceId: 'd', name: 'level', ts: T0 + 4, value: float(1.5) },
      { deviceId: 'other', name: 'button', ts: T0 + 2, value: int(1) },
    ] as const;
    store.commit({ ...batchOf([], { d: 1, other: 1 }), events: [...events] });
    const all = store.events('d', T0, T0 + 10, 10);
    expect(all).toEqual([...events].filter((e) => e.deviceId === 'd').reverse().map(({ name, ts, value }) => ({ name, ts, value })));
    expect(store.events('d', T0 + 2, T0 + 3, 10).map((e) => e.ts)).toEqual([T0 + 3, T0 + 2]);
    expect(store.events('d', T0, T0 + 10, 2).map((e) => e.ts)).toEqual([T0 + 4, T0 + 3]);
    expect(store.events('ghost', T0, T0 + 10, 2)).toEqual([]);
  });
});

describe('command log', () => {
  it('logs commands with increasing ids that fit a varint [FP-4.1], keeps the first outcome, lists newest first', () => {
    const store = fx.open();
    store.addDevice(newDevice('d'));
    const a = store.logCommand({ deviceId: 'd', command: 'setpoint', value: float(21.5), source: 'api:admin', sentAt: T0 });
    const b = store.logCommand({ deviceId: 'd', command: 'power', value: { type: 'bool', value: true }, source: 'mqtt', sentAt: T0 + 1 });
    expect(a).toBeGreaterThanOrEqual(1);
    expect(b).toBeGreaterThan(a);
    expect(Number.isSafeInteger(b)).toBe(true);
    expect(store.finishCommand(a, 'ok', '', T0 + 2)).toBe(true);
    expect(store.finishCommand(a, 'timeout', 'late', T0 + 3)).toBe(false);
    expect(store.finishCommand(999, 'ok', '', T0 + 3)).toBe(false);
    expect(store.commands('d', 10)).toEqual([
      { id: b, deviceId: 'd', command: 'power', value: { type: 'bool', value: true }, source: 'mqtt', sentAt: T0 + 1, status: null, message: null, finishedAt: null },
      { id: a, deviceId: 'd', command: 'setpoint', value: float(21.5), source: 'api:admin', sentAt: T0, status: 'ok', message: '', finishedAt: T0 + 2 },
    ]);
    expect(store.commands('d', 1).map((c) => c.id)).toEqual([b]);
    expect(() => store.logCommand({ deviceId: 'ghost', command: 'x', value: int(1), source: 't', sentAt: T0 })).toThrow(/FOREIGN KEY/);
  });

  it('never reuses an id, even after the newest command is deleted with its device', () => {
    const store = fx.open();
    store.addDevice(newDevice('d'));
    const a = store.logCommand({ deviceId: 'd', command: 'x', value: int(1), source: 't', sentAt: T0 });
    store.removeDevice('d');
    store.addDevice(newDevice('d'));
    expect(store.logCommand({ deviceId: 'd', command: 'x', value: int(1), source: 't', sentAt: T0 })).toBeGreaterThan(a);
  });
});

describe('housekeeping', () => {
  it('dataVersion changes when another connection commits', () => {
    const path = join(fx.dir(), 'hub.db');
    const hub = storeAt(path);
    const cli = storeAt(path);
    const v1 = hub.dataVersion();
    hub.addDevice(newDevice('own'));
    expect(hub.dataVersion()).toBe(v1); // its own writes do not count
    cli.addDevice(newDevice('from-cli'));
    expect(hub.dataVersion()).not.toBe(v1);
    expect(hub.getDevice('from-cli')?.id).toBe('from-cli');
  });

  it('stats counts log rows, chunks and stored readings, and the file bytes', () => {
    const store = fx.open();
    store.addDevice(newDevice('d'));
    const s = store.seriesId('d', 't', 'float');
    store.commit(batchOf(Array.from({ length: 10 }, (_, i) => ({ series: s, ts: T0 + i, value: float(i) })), { d: 1 }));
    expect(store.stats()).toMatchObject({ pendingLogRows: 10, chunks: 0, storedReadings: 10 });
    store.compactStep(4);
    expect(store.stats()).toMatchObject({ pendingLogRows: 6, chunks: 1, storedReadings: 10 });
    expect(store.stats().bytes).toBeGreaterThan(4096);
    const space = new Map(store.spaceUsage().map((t) => [t.name, t.bytes]));
    expect(space.get('chunks')).toBeGreaterThan(0);
    expect(space.get('chunks_series_tmin')).toBeGreaterThan(0);
  });

  it('backup() makes a readable copy while writes go on', async () => {
    const dir = fx.dir();
    const store = storeAt(join(dir, 'hub.db'));
    store.addDevice(newDevice('d'));
    const s = store.seriesId('d', 't', 'float');
    let seq = 0;
    const write = (): void => {
      seq += 1;
      store.commit(batchOf(Array.from({ length: 200 }, (_, i) => ({ series: s, ts: T0 + seq * 1000 + i, value: float(i) })), { d: seq }));
    };
    for (let i = 0; i < 200; i++) write(); // enough pages that the backup takes several steps
    store.compactStep();
    const atStart = seq;
    let writing = true;
    const writer = (async () => {
      while (writing) {
        write();
        await new Promise<void>((r) => setImmediate(r));
      }
    })();
    await store.backup(join(dir, 'copy', 'backup.db'));
    writing = false;
    await writer;
    expect(seq).toBeGreaterThan(atStart); // writes really interleaved with the backup
    const copy = storeAt(join(dir, 'copy', 'backup.db'));
    const seqInCopy = copy.committedSeq('d');
    expect(seqInCopy).toBeGreaterThanOrEqual(atStart);
    expect(copy.stats().storedReadings).toBe(seqInCopy * 200);
    const raw = new Database(join(dir, 'copy', 'backup.db'), { readonly: true });
    expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
    raw.close();
  });

  it('close() is idempotent; use before open() or after close() throws HUB_ERR_STORE_CLOSED', () => {
    const store = new HubStore({ path: join(fx.dir(), 'hub.db') });
    expect(codeOf(() => store.listDevices())).toBe('HUB_ERR_STORE_CLOSED');
    store.open();
    store.open();
    store.addDevice(newDevice('d'));
    store.close();
    store.close();
    expect(codeOf(() => store.getDevice('d'))).toBe('HUB_ERR_STORE_CLOSED');
    store.open();
    expect(store.getDevice('d')?.id).toBe('d');
    store.close();
  });
});
