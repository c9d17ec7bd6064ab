import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HubStore } from '../hub/storage/hub-store.js';
import type { AckFrame } from '../protocol/types.js';
import { RawDevice } from './support/raw-device.js';
import { hello } from './support/fixtures.js';
import { startHub } from './support/hub-harness.js';
import { call } from './support/http.js';
import { eventually } from './support/eventually.js';
import { sqliteNow } from '../hub/testing/sqlite-now.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'hearth-dur-'));
  dirs.push(d);
  return d;
}

function countStored(dataDir: string, deviceId: string): number {
  const store = new HubStore({ path: join(dataDir, 'hearth.db') });
  store.open();
  try {
    return store.history({ deviceId, metric: 'temperature', from: 0, to: Number.MAX_SAFE_INTEGER, step: 'raw', limit: 100_000 }).length;
  } finally {
    store.close();
  }
}

describe('graceful shutdown', () => {
  it('commits and acknowledges every received frame, then closes devices with 1001', async () => {
    const dataDir = tempDir();
    // A long commit interval keeps the frames pending until stop() has to flush them.
    const h = await startHub({ dataDir, overrides: { 'ingest.commitIntervalMs': 60_000 } });
    const { token } = sqliteNow(h.hub.registry.provision('grace-1', 'grace', 'thermostat', Date.now()));
    const { device } = await RawDevice.greet(h.wssUrl, 'grace-1', token, hello());
    for (let seq = 1; seq <= 50; seq++) {
      device.send({ type: 'telemetry', seq, ts: 1_700_000_000_000 + seq, readings: [{ metric: 1, value: { type: 'float', value: seq } }] });
    }
    await eventually(() => expect(h.hub.ingest.stats.framesAccepted).toBe(50));
    expect(device.frames.some((f) => f.type === 'ack')).toBe(false);
    await h.stop();
    const closed = await device.closed;
    expect(closed.code).toBe(1001);
    const acks = device.frames.filter((f): f is AckFrame => f.type === 'ack');
    expect(acks.at(-1)?.seq).toBe(50);
    expect(countStored(dataDir, 'grace-1')).toBe(50);
  });
});

describe('storage failure', () => {
  it('stops acknowledging while SQLite fails, reports it, and resumes without losing or doubling a reading', async () => {
    const dataDir = tempDir();
    const h = await startHub({ dataDir });
    const { token } = sqliteNow(h.hub.registry.provision('full-1', 'full', 'thermostat', Date.now()));
    const { device } = await RawDevice.greet(h.wssUrl, 'full-1', token, hello());
    device.send({ type: 'telemetry', seq: 1, ts: 1_700_000_000_001, readings: [{ metric: 1, value: { type: 'float', value: 1 } }] });
    await device.ackFor(1);

    // The disk fills up: every commit fails as SQLite reports it.
    const commit = jest.spyOn(h.hub.store, 'commit').mockImplementation(() => {
      throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    });
    for (let seq = 2; seq <= 10; seq++) {
      device.send({ type: 'telemetry', seq, ts: 1_700_000_000_000 + seq, readings: [{ metric: 1, value: { type: 'float', value: seq } }] });
    }
    await eventually(() => expect(h.hub.ingest.stats.faulted).toBe(true));
    const health = await call(`https://127.0.0.1:${h.hub.port}`, h.hub.tls.cert, 'GET', '/api/health');
    expect([health.status, health.body.storage]).toEqual([503, 'failing']);
    expect(h.logs.some((l) => l.includes('storage write failed'))).toBe(true);
    expect(device.frames.filter((f) => f.type === 'ack').map((f) => (f as AckFrame).seq)).toEqual([1]);

    // Space is freed: the retry commits the backlog once and acknowledges it.
    commit.mockRestore();
    expect(((await device.ackFor(10)) as AckFrame).seq).toBe(10);
    expect(h.hub.ingest.stats.faulted).toBe(false);
    await device.close();
    await h.stop();
    expect(countStored(dataDir, 'full-1')).toBe(10);
  });
});

describe('restart', () => {
  it('remembers sequence state and current values across a restart', async () => {
    const dataDir = tempDir();
    let h = await startHub({ dataDir });
    const { token } = sqliteNow(h.hub.registry.provision('rs-1', 'restart', 'thermostat', Date.now()));
    let { device } = await RawDevice.greet(h.wssUrl, 'rs-1', token, hello());
    device.send({ type: 'telemetry', seq: 1, ts: 1_700_000_000_000, readings: [{ metric: 1, value: { type: 'float', value: 19.5 } }] });
    await device.ackFor(1);
    await h.stop();
    await device.closed;
    h = await startHub({ dataDir });
    const again = await RawDevice.greet(h.wssUrl, 'rs-1', token, hello(1));
    device = again.device;
    expect(again.welcome.nextSeq).toBe(2);
    expect(h.hub.facade.currentState('rs-1')).toEqual({ temperature: { value: 19.5, ts: 1_700_000_000_000 } });
    await device.close();
    await h.stop();
  });
});
