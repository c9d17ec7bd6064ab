// Firmware image bytes in PostgreSQL (migration 3, firmware_chunks) and the update rows several hubs save:
// bytes back as stored across chunk boundaries, a second put a no-op, damaged or missing bytes refused, and
// a finished update never reopened by a late save.
import { createHash, randomBytes } from 'node:crypto';
import { expect, it } from '@jest/globals';
import { describePg } from '../testing/pg-cluster.js';
import { newDevice } from '../testing/store-fixture.js';
import { FIRMWARE_CHUNK_BYTES } from './pg-image-bytes.js';
import { PG_SCHEMA_VERSION } from './pg-migrations.js';
import { PgStore } from './pg-store.js';

const T0 = 1_700_000_000_000;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describePg('PgImageBytes and firmware saves', (cluster) => {
  it('keeps an image in chunks, returns it checked against its SHA-256, and refuses damaged or missing bytes', async () => {
    const store = new PgStore({ url: await cluster().createDatabase('fw_bytes') });
    await store.open();
    try {
      expect(await store.schemaVersion()).toBe(PG_SCHEMA_VERSION);
      const image = new Uint8Array(randomBytes(2 * FIRMWARE_CHUNK_BYTES + 17)); // two full chunks and a short one
      const id = sha(image);
      await store.firmwareBytes.put(id, image);
      await store.firmwareBytes.put(id, image); // again: a no-op
      const { rows } = await store.pool.query<{ idx: number; n: number }>('SELECT idx, length(data) AS n FROM firmware_chunks WHERE sha256 = $1 ORDER BY idx', [id]);
      expect(rows).toEqual([{ idx: 0, n: FIRMWARE_CHUNK_BYTES }, { idx: 1, n: FIRMWARE_CHUNK_BYTES }, { idx: 2, n: 17 }]);
      expect(await store.firmwareBytes.get(id)).toEqual(image);

      expect(await store.firmwareBytes.get('0'.repeat(64))).toBeUndefined();
      await store.pool.query("UPDATE firmware_chunks SET data = set_byte(data, 5, (get_byte(data, 5) + 1) % 256) WHERE sha256 = $1 AND idx = 1", [id]);
      expect(await store.firmwareBytes.get(id)).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('never reopens a finished update: a hub that lost the device saves its transfer late', async () => {
    const store = new PgStore({ url: await cluster().createDatabase('fw_late') });
    await store.open();
    try {
      await store.addDevice(newDevice('d'));
      const img = await store.firmware.addImage({ sha256: 'b'.repeat(64), model: 'M', version: '2', size: 1000, addedAt: T0 });
      const id = await store.firmware.createUpdate('d', img, '1', T0);
      const onA = (await store.firmware.update(id))!;
      const onB = { ...onA, state: 'done' as const, offset: 1000, verified: true };
      await store.firmware.save(onB, T0 + 2);
      await store.firmware.save({ ...onA, state: 'transferring', offset: 400 }, T0 + 3);
      expect(await store.firmware.update(id)).toMatchObject({ state: 'done', offset: 1000, verified: true, updatedAt: T0 + 2 });
      expect(await store.firmware.openUpdate('d')).toBeUndefined();
    } finally {
      await store.close();
    }
  });
});
