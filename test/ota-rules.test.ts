// The rules of firmware-protocol.md section 14 against a real hub: the device's refusals, defers, rollbacks
// and hash failures (the simulator's faults), and a raw device breaking the transfer rules.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { Fleet } from '../device-sim/index.js';
import { crc32, type Frame, type UpdateChunkFrame, type UpdateOfferFrame } from '../protocol/index.js';
import { startHub } from './support/hub-harness.js';
import { eventually } from './support/eventually.js';
import { RawDevice } from './support/raw-device.js';
import { sqliteNow } from '../hub/testing/sqlite-now.js';

const CHUNK = 4096;
const IMAGE_BYTES = 10 * CHUNK + 123;
const CAPS = [{ id: 1, name: 'temperature', unit: '°C', valueType: 'float' as const, deviceClass: 'temperature', writable: false, event: false }];

let h: Awaited<ReturnType<typeof startHub>>;
beforeAll(async () => {
  h = await startHub({ overrides: { 'firmware.chunkBytes': CHUNK } });
});
afterAll(async () => h.stop());

function latest(device: string) {
  return sqliteNow(h.hub.firmware.updates(1, device))[0];
}

describe('the device decides [FP-14.4][FP-14.7]', () => {
  it('[FP-14.4][FP-14.7] refuse, defer, rollback and a hash mismatch each end as the device said', async () => {
    const faults = { 'r-refuse': { refuse: 'downgrade' }, 'r-defer': { defer: 1, deferSeconds: 1 }, 'r-rollback': { rollback: true }, 'r-hash': { badHash: true } };
    const devices = Object.keys(faults).map((id) => ({ id, token: sqliteNow(h.hub.registry.provision(id, id, 'light', Date.now())).token, model: 'light' }));
    const fleet = new Fleet({ hubUrl: h.wssUrl, devices, rate: 0, ca: h.hub.tls.cert, backoff: { baseMs: 20, capMs: 100 }, otaFaults: (id) => faults[id as keyof typeof faults] });
    try {
      await fleet.start();
      await fleet.waitConnected();
      const model = h.hub.registry.info('r-refuse')!.model;
      const from = h.hub.registry.info('r-refuse')!.firmware;
      sqliteNow(h.hub.firmware.addImage(new Uint8Array(randomBytes(IMAGE_BYTES)), model, '5.0.0'));
      expect(sqliteNow(h.hub.firmware.update({ model }, '5.0.0')).queued).toHaveLength(4);
      await eventually(() => expect(latest('r-refuse')).toMatchObject({ state: 'failed', reason: 'refused: downgrade' }), 20_000);
      await eventually(() => expect(latest('r-hash')).toMatchObject({ state: 'failed', reason: expect.stringMatching(/^hash_mismatch: sha256 /) }), 20_000);
      await eventually(() => expect(latest('r-rollback')).toMatchObject({ state: 'rolled_back', reason: `came back with ${from}` }), 20_000);
      // Deferred once (queued with its reason), offered again after retryAfterS, then installed.
      const deferred = fleet.devices.find((d) => d.id === 'r-defer')!;
      await eventually(() => expect(latest('r-defer')).toMatchObject({ state: 'done' }), 20_000);
      expect(deferred.ota.stats.offers).toBe(2);
      expect(h.hub.registry.info('r-defer')!.firmware).toBe('5.0.0');
      expect(h.hub.registry.info('r-rollback')!.firmware).toBe(from);
      expect(h.hub.registry.info('r-hash')!.firmware).toBe(from);
    } finally {
      await fleet.stop({ ackTimeoutMs: 500 });
    }
  }, 60_000);
});

describe('a raw device and the transfer rules [FP-14.1][FP-14.5][FP-14.8]', () => {
  const model = 'Raw R1';
  beforeAll(() => {
    sqliteNow(h.hub.firmware.addImage(new Uint8Array(randomBytes(IMAGE_BYTES)), model, '2.0.0'));
  });

  async function updatable(id: string, updates: boolean) {
    const token = sqliteNow(h.hub.registry.provision(id, id, 'raw', Date.now())).token;
    const greet = () => RawDevice.greet(h.wssUrl, id, token, { model, firmware: '1.0.0', lastAckedSeq: 0, capabilities: CAPS, ...(updates ? { updates } : {}) });
    const first = await greet();
    return { ...first, greet };
  }

  it('[FP-14.1] a device whose HELLO does not set UPDATES is never offered one: its update fails as not_updatable', async () => {
    const { device, greet } = await updatable('raw-v10', false);
    sqliteNow(h.hub.firmware.update({ device: 'raw-v10' }, '2.0.0'));
    device.send({ type: 'telemetry', seq: 1, ts: 0, readings: [{ metric: 1, value: { type: 'float', value: 20 } }] });
    await device.ackFor(1);
    expect(latest('raw-v10')!.state).toBe('queued');
    await device.close();
    const { device: back } = await greet();
    await eventually(() => expect(latest('raw-v10')).toMatchObject({ state: 'failed', reason: expect.stringMatching(/^not_updatable/) }));
    expect([...device.frames, ...back.frames].some((f) => f.type === 'update_offer')).toBe(false);
    await back.close();
  });

  it('[FP-14.5] chunks come in order, CRC-32 checked, never more than the window beyond the confirmed offset', async () => {
    const { device } = await updatable('raw-window', true);
    sqliteNow(h.hub.firmware.update({ device: 'raw-window' }, '2.0.0'));
    const offer = (await device.next('update_offer')) as UpdateOfferFrame;
    expect(offer).toMatchObject({ version: '2.0.0', size: IMAGE_BYTES, chunkSize: CHUNK });
    device.send({ type: 'update_answer', updateId: offer.updateId, decision: 'accept', offset: 0, window: 2, retryAfterS: 0, reason: '' });
    // The telemetry's ACK comes after the hub's chunk pump ran for the accept: what came by then is all the window allows.
    device.send({ type: 'telemetry', seq: 1, ts: 0, readings: [{ metric: 1, value: { type: 'float', value: 20 } }] });
    await device.ackFor(1);
    await device.next('update_chunk', (f) => (f as UpdateChunkFrame).offset === CHUNK);
    device.send({ type: 'telemetry', seq: 2, ts: 0, readings: [{ metric: 1, value: { type: 'float', value: 21 } }] });
    await device.ackFor(2);
    const chunks = () => device.frames.filter((f): f is UpdateChunkFrame => f.type === 'update_chunk');
    expect(chunks().map((c) => c.offset)).toEqual([0, CHUNK]);
    device.send({ type: 'update_progress', updateId: offer.updateId, offset: CHUNK, window: 2 });
    await device.next('update_chunk', (f) => (f as UpdateChunkFrame).offset === 2 * CHUNK);
    expect(chunks().map((c) => c.offset)).toEqual([0, CHUNK, 2 * CHUNK]);
    for (const c of chunks()) expect({ offset: c.offset, length: c.data.length, crc: crc32(c.data) }).toEqual({ offset: c.offset, length: CHUNK, crc: c.crc32 });
    await eventually(() => expect(latest('raw-window')).toMatchObject({ state: 'transferring', offset: CHUNK }));
    await device.close();
  });

  it('[FP-14.8] confirming bytes never sent is HUB_ERR_UPDATE_VIOLATION with close 1002; the update resumes on the next connection', async () => {
    const { device, greet } = await updatable('raw-liar', true);
    sqliteNow(h.hub.firmware.update({ device: 'raw-liar' }, '2.0.0'));
    const offer = (await device.next('update_offer')) as UpdateOfferFrame;
    device.send({ type: 'update_answer', updateId: offer.updateId, decision: 'accept', offset: 0, window: 1, retryAfterS: 0, reason: '' });
    await device.next('update_chunk');
    device.send({ type: 'update_progress', updateId: offer.updateId, offset: 4 * CHUNK, window: 1 });
    const error = (await device.next('error')) as Extract<Frame, { type: 'error' }>;
    expect(error.code).toBe('HUB_ERR_UPDATE_VIOLATION');
    expect((await device.closed).code).toBe(1002);
    const { device: back } = await greet();
    const again = (await back.next('update_offer')) as UpdateOfferFrame;
    expect(again).toEqual(offer);
    // An offset off the chunk grid is refused the same way.
    back.send({ type: 'update_answer', updateId: again.updateId, decision: 'accept', offset: 100, window: 1, retryAfterS: 0, reason: '' });
    expect(((await back.next('error')) as Extract<Frame, { type: 'error' }>).code).toBe('HUB_ERR_UPDATE_VIOLATION');
    expect((await back.closed).code).toBe(1002);
  });

  it('[FP-14.2] update frames naming another update are ignored, and hub-only update frames from a device are refused', async () => {
    const { device } = await updatable('raw-stale', true);
    device.send({ type: 'update_progress', updateId: 999, offset: 0, window: 1 });
    device.send({ type: 'update_result', updateId: 999, status: 'verified', offset: 1, message: '' });
    device.send({ type: 'telemetry', seq: 1, ts: 0, readings: [{ metric: 1, value: { type: 'float', value: 20 } }] });
    await device.ackFor(1);
    device.send({ type: 'update_chunk', updateId: 1, offset: 0, crc32: 0, data: Uint8Array.of(1) });
    expect(((await device.next('error')) as Extract<Frame, { type: 'error' }>).code).toBe('HUB_ERR_UNEXPECTED_FRAME');
    expect((await device.closed).code).toBe(1002);
  });
});
