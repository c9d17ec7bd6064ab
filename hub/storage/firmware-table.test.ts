// The firmware tables of migration 0004 [FP-14]: images by model and version, one unfinished update per
// device (a new one supersedes it), state CHECKs that match the API's union, and the indexes the hub queries.
import { afterAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { HubStore } from './hub-store.js';
import type { ApiUpdateState } from '../http/api-types.js';
import { OPEN_UPDATE_STATES, type UpdateState } from './firmware-table.js';
import { StoreFixture, newDevice } from './testing/store-fixture.js';

const fx = new StoreFixture();
afterAll(() => fx.cleanup());

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const SHA = (c: string) => c.repeat(64);

describe('firmware tables', () => {
  const store = fx.open();
  store.addDevice(newDevice('d1'));
  const image = store.firmware.addImage({ sha256: SHA('a'), model: 'M1', version: '2.0.0', size: 100, addedAt: 1 });

  it('an image is stored once by its bytes; another name for them, or other bytes for a name, is HUB_ERR_FIRMWARE_EXISTS', () => {
    expect(store.firmware.addImage({ ...image, addedAt: 5 })).toEqual(image);
    expect(() => store.firmware.addImage({ ...image, version: '2.0.1' })).toThrow(/HUB_ERR_FIRMWARE_EXISTS/);
    expect(() => store.firmware.addImage({ ...image, sha256: SHA('b') })).toThrow(/HUB_ERR_FIRMWARE_EXISTS/);
    expect(store.firmware.imageByVersion('M1', '2.0.0')).toEqual(image);
    expect(store.firmware.images()).toEqual([image]);
  });

  it('[FP-14.6] a new update of a device supersedes its unfinished one; state and offset survive a reopen', () => {
    const first = store.firmware.createUpdate('d1', image, '1.0.0', 10);
    const u = store.firmware.update(first)!;
    u.state = 'transferring';
    u.offset = 40;
    u.resumes = 1;
    store.firmware.save(u, 11);
    const second = store.firmware.createUpdate('d1', image, '1.0.0', 12);
    expect(store.firmware.update(first)).toMatchObject({ state: 'failed', reason: 'superseded', offset: 40, resumes: 1 });
    expect(store.firmware.openUpdate('d1')).toMatchObject({ id: second, state: 'queued', offset: 0, fromVersion: '1.0.0', version: '2.0.0', size: 100 });
    const again = new HubStore({ path: store.settings.path });
    again.open();
    try {
      expect(again.firmware.openUpdates().map((x) => x.id)).toEqual([second]);
      expect(again.firmware.updates(10, 'd1').map((x) => x.id)).toEqual([second, first]);
    } finally {
      again.close();
    }
  });

  it('the CHECKs refuse an offset beyond the size, an unknown state, and a second unfinished update of one device', () => {
    const u = store.firmware.openUpdate('d1')!;
    expect(() => store.firmware.save({ ...u, offset: 101 }, 20)).toThrow(/CHECK constraint failed/);
    expect(() => store.firmware.save({ ...u, state: 'exploded' as UpdateState }, 20)).toThrow(/CHECK constraint failed/);
    const raw = new Database(store.settings.path);
    try {
      const insert = `INSERT INTO firmware_updates (device_id, sha256, version, from_version, size, state, created_at, updated_at) VALUES ('d1', '${SHA('a')}', 'x', 'y', 1, 'queued', 0, 0)`;
      expect(() => raw.exec(insert)).toThrow(/UNIQUE constraint failed/);
      const plan = (sql: string) => (raw.prepare(`EXPLAIN QUERY PLAN ${sql}`).all('d1') as { detail: string }[]).map((r) => r.detail).join('\n');
      expect(plan("SELECT * FROM firmware_updates WHERE device_id = ? AND state IN ('queued', 'transferring', 'verifying')")).toMatch(/USING INDEX firmware_updates_open \(device_id=\?\)/);
      expect(plan('SELECT * FROM firmware_updates WHERE device_id = ? ORDER BY id DESC LIMIT 10')).toMatch(/USING INDEX firmware_updates_device \(device_id=\?\)/);
    } finally {
      raw.close();
    }
  });

  it('removing a device removes its updates (the foreign key cascades)', () => {
    expect(store.removeDevice('d1')).toBe(true);
    expect(store.firmware.updates(10, 'd1')).toEqual([]);
  });

  it("the states are the API's, and the unfinished ones are those of the partial index", () => {
    const same: Equal<ApiUpdateState, UpdateState> = true;
    expect(same).toBe(true);
    expect([...OPEN_UPDATE_STATES]).toEqual(['queued', 'transferring', 'verifying']);
  });
});
