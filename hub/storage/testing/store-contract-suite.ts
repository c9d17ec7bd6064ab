// The one contract suite of HubStoreContract (test support): registers describe/it blocks against any adapter
// given a harness. Every call is awaited, so the synchronous SQLite store and the PostgreSQL store run the
// same tests. Run by hub/storage/store-contract.sqlite.test.ts and hub/storage/pg/store-contract.pg.test.ts.
import { afterAll, describe, expect, it } from '@jest/globals';
import type { Capability, Value } from '../../../protocol/types.js';
import type { HubStoreContract } from '../store-contract.js';
import type { CommitBatch, EventRow, ReadingRow, RetentionPolicy } from '../types.js';
import { batchOf, float, int, newDevice } from './store-fixture.js';
import { contractInput, expectedHistory, type ContractInput } from './store-contract-input.js';

export interface StoreHarness {
  /** A store on a new empty database, not opened yet. */
  create(opts?: { now?: () => number; retention?: Partial<RetentionPolicy> }): Promise<HubStoreContract>;
  /** A second store on the database of `store` (not opened yet). */
  sameDatabase(store: HubStoreContract): Promise<HubStoreContract>;
  /** Writes schema version `version` into the database of `store` as a newer Hearth would. */
  setSchemaVersion(store: HubStoreContract, version: number): Promise<void>;
  /** Lets the engine's own upkeep catch up (SQLite: compaction); retention may rely on it. */
  settle(store: HubStoreContract): Promise<void>;
  /** Closes and removes everything this harness made. */
  cleanup(): Promise<void>;
}

const T0 = 1_700_000_000_000;
const DAY = 24 * 3600_000;
const CAPS: Capability[] = [
  { id: 1, name: 'temperature', unit: '°C', valueType: 'float', deviceClass: 'temperature', writable: false, event: false, min: -40, max: 85 },
  { id: 2, name: 'mode', unit: '', valueType: 'enum', deviceClass: '', writable: true, event: false, options: ['off', 'heat'] },
];

async function codeOf(p: () => unknown): Promise<string | undefined> {
  try {
    await p();
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
  return undefined;
}

/** Writes `input` (devices, series, one commit per batch) into an opened store; returns series ids by name. */
export async function writeInput(store: HubStoreContract, input: ContractInput): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  for (const d of input.devices) await store.addDevice(newDevice(d, T0));
  for (const s of input.series) ids.set(`${s.deviceId}/${s.metric}`, await store.seriesId(s.deviceId, s.metric, s.type));
  for (const b of input.batches) {
    const readings: ReadingRow[] = b.map((r) => ({ series: ids.get(`${r.deviceId}/${r.metric}`)!, ts: r.ts, value: r.value }));
    await store.commit(batchOf(readings));
  }
  return ids;
}

/** Registers the contract's tests for one adapter named `name`. */
export function storeContractSuite(name: string, harness: () => StoreHarness): void {
  describe(`HubStoreContract on ${name}`, () => {
    afterAll(() => harness().cleanup());
    const open = async (opts?: Parameters<StoreHarness['create']>[0]) => {
      const store = await harness().create(opts);
      await store.open();
      return store;
    };

    describe('migrations', () => {
      it('migrates a new database to a schema version above 0, and reopens it unchanged', async () => {
        const store = await open();
        const version = await store.schemaVersion();
        expect(version).toBeGreaterThan(0);
        await store.addDevice(newDevice('kept'));
        await store.close();
        const again = await harness().sameDatabase(store);
        await again.open();
        expect(await again.schemaVersion()).toBe(version);
        expect((await again.getDevice('kept'))?.id).toBe('kept');
      });

      it('refuses a database with a newer schema version (HUB_ERR_DB_TOO_NEW) and leaves it untouched', async () => {
        const store = await open();
        const version = await store.schemaVersion();
        await store.close();
        await harness().setSchemaVersion(store, version + 1);
        const newer = await harness().sameDatabase(store);
        expect(await codeOf(() => newer.open())).toBe('HUB_ERR_DB_TOO_NEW');
        const twice = await harness().sameDatabase(store);
        expect(await codeOf(() => twice.open())).toBe('HUB_ERR_DB_TOO_NEW');
      });
    });

    describe('devices and credentials', () => {
      it('adds, gets, lists by id, and keeps the token salt and hash', async () => {
        const store = await open();
        await store.addDevice({ ...newDevice('b-2', T0), tokenSalt: 's2', tokenHash: 'h2' });
        await store.addDevice(newDevice('a-1', T0 + 1));
        expect(await store.getDevice('b-2')).toEqual({
          id: 'b-2', name: 'Device b-2', type: 'sensor', tokenSalt: 's2', tokenHash: 'h2',
          model: '', firmware: '', capabilities: [], createdAt: T0, lastSeen: null, revokedAt: null, room: null,
        });
        expect(await store.getDevice('nope')).toBeUndefined();
        expect((await store.listDevices()).map((d) => d.id)).toEqual(['a-1', 'b-2']);
      });

      it('refuses a duplicate id with HUB_ERR_DEVICE_EXISTS, revoked or not', async () => {
        const store = await open();
        await store.addDevice(newDevice('dup'));
        expect(await codeOf(() => store.addDevice(newDevice('dup')))).toBe('HUB_ERR_DEVICE_EXISTS');
        expect(await store.revokeDevice('dup', T0 + 5)).toBe(true);
        expect(await store.revokeDevice('dup', T0 + 6)).toBe(false);
        expect((await store.getDevice('dup'))?.revokedAt).toBe(T0 + 5);
        expect(await codeOf(() => store.addDevice(newDevice('dup')))).toBe('HUB_ERR_DEVICE_EXISTS');
      });

      it('stores HELLO, name and room; false for an unknown device', async () => {
        const store = await open();
        await store.addDevice(newDevice('h'));
        expect(await store.updateDeviceHello('h', { model: 'TH-1', firmware: '2.0', capabilities: CAPS, updates: true })).toBe(true);
        expect(await store.renameDevice('h', 'Hall')).toBe(true);
        expect(await store.setDeviceRoom('h', 'hall')).toBe(true);
        expect(await store.getDevice('h')).toMatchObject({ model: 'TH-1', firmware: '2.0', capabilities: CAPS, updates: true, name: 'Hall', room: 'hall' });
        expect(await store.setDeviceRoom('h', null)).toBe(true);
        expect((await store.getDevice('h'))?.room).toBeNull();
        expect(await store.updateDeviceHello('x', { model: '', firmware: '', capabilities: [] })).toBe(false);
        expect(await store.renameDevice('x', 'X')).toBe(false);
        expect(await store.setDeviceRoom('x', 'r')).toBe(false);
      });

      it('removes a device with its readings, events and commands; false when unknown', async () => {
        const store = await open();
        await store.addDevice(newDevice('gone'));
        const s = await store.seriesId('gone', 'temperature', 'float');
        await store.commit({ ...batchOf([{ series: s, ts: T0, value: float(1) }], { gone: 1 }), events: [{ deviceId: 'gone', name: 'x', ts: T0, value: int(1) }] });
        await store.logCommand({ deviceId: 'gone', command: 'mode', value: int(1), source: 'test', sentAt: T0 });
        expect(await store.removeDevice('gone')).toBe(true);
        expect(await store.removeDevice('gone')).toBe(false);
        expect(await store.getDevice('gone')).toBeUndefined();
        await store.addDevice(newDevice('gone'));
        expect(await store.history({ deviceId: 'gone', metric: 'temperature', from: 0, to: T0 * 2, step: 'raw', limit: 10 })).toEqual([]);
        expect(await store.events('gone', 0, T0 * 2, 10)).toEqual([]);
        expect(await store.commands('gone', 10)).toEqual([]);
        expect(await store.committedSeq('gone')).toBe(0);
      });
    });

    describe('group commit', () => {
      it('commits readings, events, seqs and lastSeen together', async () => {
        const store = await open();
        await store.addDevice(newDevice('a'));
        await store.addDevice(newDevice('b'));
        await store.addDevice(newDevice('idle'));
        const sa = await store.seriesId('a', 'temperature', 'float');
        expect(await store.seriesId('a', 'temperature', 'float')).toBe(sa);
        const sb = await store.seriesId('b', 'power', 'int');
        expect(sb).not.toBe(sa);
        const events: EventRow[] = [{ deviceId: 'b', name: 'button', ts: T0 + 2, value: { type: 'string', value: 'press' } }];
        await store.commit({ ...batchOf([{ series: sa, ts: T0, value: float(21.5) }, { series: sb, ts: T0 + 1, value: int(7) }], { a: 4, b: 9 }, { a: T0 + 10, idle: T0 + 11 }), events });
        expect(await store.committedSeqs()).toEqual(new Map([['a', 4], ['b', 9], ['idle', 0]]));
        expect(await store.committedSeq('a')).toBe(4);
        expect(await store.committedSeq('nobody')).toBe(0);
        expect((await store.getDevice('a'))?.lastSeen).toBe(T0 + 10);
        expect((await store.getDevice('idle'))?.lastSeen).toBe(T0 + 11);
        expect(await store.events('b', 0, T0 * 2, 10)).toEqual([{ name: 'button', ts: T0 + 2, value: { type: 'string', value: 'press' } }]);
        expect((await store.stats()).storedReadings).toBe(2);
      });

      it('is all-or-nothing: a failing batch stores no reading, no event, and leaves seqs unchanged', async () => {
        const store = await open();
        await store.addDevice(newDevice('a'));
        const num = await store.seriesId('a', 'n', 'float');
        const text = await store.seriesId('a', 'label', 'string');
        await store.commit(batchOf([{ series: num, ts: T0, value: float(1) }], { a: 1 }, { a: T0 }));
        const bad: CommitBatch = {
          // The schema refuses a string over 255 bytes [FP-5.5]: the last net behind the decoder.
          ...batchOf([{ series: num, ts: T0 + 1, value: float(2) }, { series: text, ts: T0 + 1, value: { type: 'string', value: 'x'.repeat(300) } }], { a: 2 }, { a: T0 + 1 }),
          events: [{ deviceId: 'a', name: 'e', ts: T0 + 1, value: int(1) }],
        };
        expect(await codeOf(() => store.commit(bad))).toBeDefined();
        expect(await store.committedSeq('a')).toBe(1);
        expect((await store.getDevice('a'))?.lastSeen).toBe(T0);
        expect(await store.history({ deviceId: 'a', metric: 'n', from: 0, to: T0 * 2, step: 'raw', limit: 10 })).toEqual([{ ts: T0, value: 1 }]);
        expect(await store.events('a', 0, T0 * 2, 10)).toEqual([]);
        const minute = await store.history({ deviceId: 'a', metric: 'n', from: 0, to: T0 * 2, step: 'minute', limit: 10 });
        expect(minute.map((p) => p.count)).toEqual([1]);
        // The store is still usable after the failure.
        await store.commit(batchOf([{ series: num, ts: T0 + 2, value: float(3) }], { a: 3 }));
        expect(await store.committedSeq('a')).toBe(3);
      });

      it('skips seqs and events of a device removed while its batch waited, committing the others', async () => {
        const store = await open();
        await store.addDevice(newDevice('stays'));
        await store.addDevice(newDevice('leaves'));
        const s = await store.seriesId('stays', 'm', 'int');
        const l = await store.seriesId('leaves', 'm', 'int');
        await store.removeDevice('leaves');
        const events: EventRow[] = [{ deviceId: 'leaves', name: 'e', ts: T0, value: int(1) }];
        await store.commit({ ...batchOf([{ series: s, ts: T0, value: int(5) }, { series: l, ts: T0, value: int(6) }], { stays: 2, leaves: 3 }), events });
        expect(await store.committedSeqs()).toEqual(new Map([['stays', 2]]));
        expect(await store.history({ deviceId: 'stays', metric: 'm', from: 0, to: T0, step: 'raw', limit: 10 })).toEqual([{ ts: T0, value: 5 }]);
      });
    });

    describe('history and latest', () => {
      const input = contractInput(T0);
      for (const step of ['raw', 'minute', 'hour'] as const) {
        it(`answers ${step} history of every value type as computed from the input`, async () => {
          const store = await open();
          await writeInput(store, input);
          for (const s of input.series) {
            for (const [from, to, limit] of [[0, T0 * 2, 100_000], [T0 + 90_000, T0 + 4 * 3600_000, 50], [T0 + 1, T0 + 1, 5]] as const) {
              const got = await store.history({ deviceId: s.deviceId, metric: s.metric, from, to, step, limit });
              expect({ series: s.metric, from, got }).toEqual({ series: s.metric, from, got: expectedHistory(input, s, step, from, to, limit) });
            }
          }
          await harness().settle(store); // the same answers after the engine's upkeep (SQLite compaction)
          const s = input.series[0]!;
          expect(await store.history({ deviceId: s.deviceId, metric: s.metric, from: 0, to: T0 * 2, step, limit: 100_000 })).toEqual(
            expectedHistory(input, s, step, 0, T0 * 2, 100_000),
          );
        });
      }

      it('answers [] for an unknown device or metric, an empty range and a limit of 0', async () => {
        const store = await open();
        await writeInput(store, input);
        const s = input.series[0]!;
        expect(await store.history({ deviceId: 'nobody', metric: s.metric, from: 0, to: T0 * 2, step: 'raw', limit: 10 })).toEqual([]);
        expect(await store.history({ deviceId: s.deviceId, metric: 'nothing', from: 0, to: T0 * 2, step: 'minute', limit: 10 })).toEqual([]);
        expect(await store.history({ deviceId: s.deviceId, metric: s.metric, from: T0 * 2, to: T0, step: 'raw', limit: 10 })).toEqual([]);
        expect(await store.history({ deviceId: s.deviceId, metric: s.metric, from: 0, to: T0 * 2, step: 'raw', limit: 0 })).toEqual([]);
      });

      it('gives the newest value of every metric, typed, by metric name', async () => {
        const store = await open();
        await writeInput(store, input);
        for (const d of input.devices) {
          const expected = input.series
            .filter((s) => s.deviceId === d)
            .map((s) => {
              const rows = input.batches.flat().filter((r) => r.deviceId === d && r.metric === s.metric).sort((a, b) => b.ts - a.ts);
              return { metric: s.metric, ts: rows[0]!.ts, value: rows[0]!.value };
            })
            .sort((a, b) => (a.metric < b.metric ? -1 : 1));
          expect(await store.latest(d)).toEqual(expected);
        }
        expect(await store.latest('nobody')).toEqual([]);
      });
    });

    describe('events and the command log', () => {
      it('lists events newest first within [from, to], at most limit, with their types', async () => {
        const store = await open();
        await store.addDevice(newDevice('e'));
        const values: Value[] = [int(1), float(2.5), { type: 'bool', value: true }, { type: 'string', value: 'hi' }, { type: 'enum', value: 1 }];
        const events: EventRow[] = values.map((value, i) => ({ deviceId: 'e', name: `n${i}`, ts: T0 + i * 1000, value }));
        await store.commit({ ...batchOf([]), events });
        expect(await store.events('e', 0, T0 * 2, 10)).toEqual(events.map(({ name, ts, value }) => ({ name, ts, value })).reverse());
        expect((await store.events('e', T0 + 1000, T0 + 3000, 2)).map((e) => e.name)).toEqual(['n3', 'n2']);
      });

      it('logs commands with increasing ids; the first outcome stands', async () => {
        const store = await open();
        await store.addDevice(newDevice('c'));
        const a = await store.logCommand({ deviceId: 'c', command: 'mode', value: { type: 'enum', value: 1 }, source: 'mqtt', sentAt: T0 });
        const b = await store.logCommand({ deviceId: 'c', command: 'label', value: { type: 'string', value: 'x' }, source: 'api:ann', sentAt: T0 + 1 });
        expect(a).toBeGreaterThanOrEqual(1);
        expect(b).toBeGreaterThan(a);
        expect(await store.finishCommand(a, 'ok', 'done', T0 + 5)).toBe(true);
        expect(await store.finishCommand(a, 'timeout', 'late', T0 + 9)).toBe(false);
        expect(await store.finishCommand(9_999, 'ok', '', T0)).toBe(false);
        expect(await store.commands('c', 10)).toEqual([
          { id: b, deviceId: 'c', command: 'label', value: { type: 'string', value: 'x' }, source: 'api:ann', sentAt: T0 + 1, status: null, message: null, finishedAt: null },
          { id: a, deviceId: 'c', command: 'mode', value: { type: 'enum', value: 1 }, source: 'mqtt', sentAt: T0, status: 'ok', message: 'done', finishedAt: T0 + 5 },
        ]);
        expect((await store.commands('c', 1)).map((c) => c.id)).toEqual([b]);
      });
    });

    describe('retention', () => {
      it('removes raw readings and events past rawMs and rollups past rollupMs, keeping what is younger', async () => {
        const now = T0 + 100 * DAY;
        const store = await open({ now: () => now, retention: { rawMs: 10 * DAY, rollupMs: 50 * DAY } });
        await store.addDevice(newDevice('r'));
        const s = await store.seriesId('r', 't', 'float');
        const at = { ancient: now - 60 * DAY, old: now - 20 * DAY, young: now - 2 * DAY };
        const readings = Object.values(at).map((ts) => ({ series: s, ts, value: float(1) }));
        const events: EventRow[] = Object.values(at).map((ts) => ({ deviceId: 'r', name: 'e', ts, value: int(1) }));
        await store.commit({ ...batchOf(readings), events });
        await harness().settle(store);
        let removed = 0;
        for (let i = 0; i < 20; i++) {
          const n = await store.retentionStep(1_000);
          removed += n;
          if (n === 0) break;
        }
        expect(removed).toBeGreaterThan(0);
        expect(await store.retentionStep(1_000)).toBe(0);
        const q = { deviceId: 'r', metric: 't', from: 0, to: now, limit: 100 };
        expect((await store.history({ ...q, step: 'raw' })).map((p) => p.ts)).toEqual([at.young]);
        expect((await store.history({ ...q, step: 'minute' })).map((p) => p.ts)).toEqual([at.old, at.young].map((t) => t - (t % 60_000)));
        expect((await store.history({ ...q, step: 'hour' })).map((p) => p.ts)).toEqual([at.old, at.young].map((t) => t - (t % 3_600_000)));
        expect((await store.events('r', 0, now, 10)).map((e) => e.ts)).toEqual([at.young]);
      });
    });

    describe('firmware', () => {
      it('stores images and updates: a clash is HUB_ERR_FIRMWARE_EXISTS, a new update supersedes the open one', async () => {
        const store = await open();
        await store.addDevice(newDevice('f'));
        const img = { sha256: 'a'.repeat(64), model: 'TH-1', version: '2.0', size: 1000, addedAt: T0 };
        expect(await store.firmware.addImage(img)).toEqual(img);
        expect(await store.firmware.addImage(img)).toEqual(img);
        expect(await codeOf(() => store.firmware.addImage({ ...img, sha256: 'b'.repeat(64) }))).toBe('HUB_ERR_FIRMWARE_EXISTS');
        const img2 = { ...img, sha256: 'c'.repeat(64), version: '2.1' };
        await store.firmware.addImage(img2);
        expect((await store.firmware.images()).map((i) => i.version)).toEqual(['2.0', '2.1']);
        expect(await store.firmware.imageByVersion('TH-1', '2.1')).toEqual(img2);
        const first = await store.firmware.createUpdate('f', img, '1.0', T0);
        const u = (await store.firmware.update(first))!;
        expect(u).toMatchObject({ deviceId: 'f', state: 'queued', offset: 0, verified: false, fromVersion: '1.0' });
        await store.firmware.save({ ...u, state: 'transferring', offset: 500, resumes: 1 }, T0 + 1);
        expect(await store.firmware.openUpdate('f')).toMatchObject({ id: first, state: 'transferring', offset: 500, resumes: 1, updatedAt: T0 + 1 });
        const second = await store.firmware.createUpdate('f', img2, '1.0', T0 + 2);
        expect(await store.firmware.update(first)).toMatchObject({ state: 'failed', reason: 'superseded' });
        expect((await store.firmware.openUpdates()).map((x) => x.id)).toEqual([second]);
        expect((await store.firmware.updates(10, 'f')).map((x) => x.id)).toEqual([second, first]);
      });
    });
  });
}
