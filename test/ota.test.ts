// Firmware updates end to end (firmware-protocol.md section 14): a real hub (port 0, real SQLite, TLS), the
// simulator as a library with fault injection, a 1 MiB image to 20 devices.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Fleet } from '../device-sim/index.js';
import type { FirmwareUpdateStatus } from '../hub/firmware/update-status.js';
import { startHub } from './support/hub-harness.js';
import { eventually } from './support/eventually.js';
import { sqliteNow } from '../hub/testing/sqlite-now.js';

const MIB = 1024 * 1024;
const MODEL = 'Hearth Sim Thermostat T1';
const FINAL = new Set(['done', 'failed', 'rolled_back']);

type Started = Awaited<ReturnType<typeof startHub>>;

describe('a 1 MiB image to 20 simulated devices [FP-14]', () => {
  let h: Started;
  let fleet: Fleet;
  const image = new Uint8Array(randomBytes(MIB));
  const ids = Array.from({ length: 20 }, (_, i) => `ota-${String(i).padStart(2, '0')}`);
  const transferring = new Set<string>();
  let mostTransferring = 0;
  /** `transferring` announcements per device: the accept, then progress in 5% steps. */
  const progressAnnounced = new Map<string, number>();

  beforeAll(async () => {
    h = await startHub({ overrides: { 'firmware.concurrency': 8, 'firmware.chunkBytes': 16384 } });
    h.hub.bus.on('firmware.update', (u: FirmwareUpdateStatus) => {
      if (u.state === 'transferring') progressAnnounced.set(u.device, (progressAnnounced.get(u.device) ?? 0) + 1);
      if (u.state === 'transferring') transferring.add(u.device);
      else transferring.delete(u.device);
      mostTransferring = Math.max(mostTransferring, transferring.size);
    });
    const devices = ids.map((id) => ({ id, token: sqliteNow(h.hub.registry.provision(id, id, 'thermostat', Date.now())).token, model: 'thermostat' }));
    fleet = new Fleet({
      hubUrl: h.wssUrl,
      devices,
      rate: 5,
      ca: h.hub.tls.cert,
      backoff: { baseMs: 50, capMs: 200 },
      otaFaults: (id) => (id === 'ota-03' ? { disconnectAt: [0.3, 0.6] } : id === 'ota-07' ? { corruptAt: 0.5 } : undefined),
    });
    await fleet.start();
    await fleet.waitConnected();
  }, 60_000);

  afterAll(async () => {
    await fleet?.stop({ ackTimeoutMs: 2000 });
    await h?.stop();
  });

  it('[FP-14.5][FP-14.6][FP-14.7] 19 done with the new version in HELLO, 1 failed with its reason, the interrupted one resumed', async () => {
    const before = h.hub.registry.info('ota-00')!.firmware;
    sqliteNow(h.hub.firmware.addImage(image, MODEL, '9.1.0'));
    const { queued, skipped } = sqliteNow(h.hub.firmware.update({ model: MODEL }, '9.1.0'));
    expect({ queued: queued.length, skipped }).toEqual({ queued: 20, skipped: [] });
    expect(queued.every((u) => u.state === 'queued' && u.fromVersion === before && u.size === MIB)).toBe(true);

    const updates = await eventually(
      () => {
        const latest = new Map(sqliteNow(h.hub.firmware.updates(100)).map((u) => [u.device, u]));
        return ids.every((id) => FINAL.has(latest.get(id)?.state ?? '')) && latest;
      },
      { timeoutMs: 90_000, what: 'every update to finish' },
    );

    const done = ids.filter((id) => updates.get(id)!.state === 'done');
    expect(done).toEqual(ids.filter((id) => id !== 'ota-07'));
    // The version each device reports in its HELLO after the reboot [FP-14.7].
    for (const id of done) expect({ id, firmware: h.hub.registry.info(id)!.firmware }).toEqual({ id, firmware: '9.1.0' });
    const failed = updates.get('ota-07')!;
    expect(failed.state).toBe('failed');
    expect(failed.reason).toMatch(/^corrupt_chunk: crc32 of the chunk at \d+ does not match/);
    expect(h.hub.registry.info('ota-07')!.firmware).toBe(before);

    // Resumed, not restarted: two accepts above 0, and about one image's bytes received in all [FP-14.6].
    const flaky = fleet.devices.find((d) => d.id === 'ota-03')!;
    expect(updates.get('ota-03')!.resumes).toBe(2);
    expect(flaky.ota.stats.acceptedAt[0]).toBe(0);
    expect(flaky.ota.stats.acceptedAt.slice(1).every((offset) => offset > 0)).toBe(true);
    expect(flaky.ota.stats.acceptedAt).toHaveLength(3);
    expect(flaky.ota.stats.bytesReceived).toBeLessThan(MIB + 2 * 4 * 16384);
    expect(flaky.ota.stats.results).toEqual(['verified']);
    // One clean device received exactly the image, once.
    const clean = fleet.devices.find((d) => d.id === 'ota-11')!;
    expect(clean.ota.stats).toMatchObject({ acceptedAt: [0], bytesReceived: MIB, chunks: MIB / 16384, results: ['verified'] });

    // Progress on the bus (and so on MQTT) in 5% steps, not per percent or per chunk: the accept and 19 steps.
    expect(progressAnnounced.get('ota-11')).toBe(1 + 19);
    // The rollout ran at the bounded concurrency; a device that dropped mid-transfer keeps its state but not its slot.
    expect(mostTransferring).toBeGreaterThan(1);
    expect(mostTransferring).toBeLessThanOrEqual(8 + 1);
    // Telemetry went on meanwhile: readings of an updated device were committed during the update.
    expect(h.hub.facade.currentState('ota-11').temperature).toBeDefined();
  }, 120_000);
});

/** A free TCP port on 127.0.0.1, so that a restarted hub listens where its devices reconnect. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('update state survives a hub restart [FP-14.6]', () => {
  it('[FP-14.6] a transfer interrupted by a hub restart resumes at the confirmed offset and finishes', async () => {
    const port = await freePort();
    let h = await startHub({ overrides: { port, 'firmware.chunkBytes': 4096 } });
    const dataDir = h.dataDir;
    const token = sqliteNow(h.hub.registry.provision('ota-restart', 'r', 'smart_plug', Date.now())).token;
    const fleet = new Fleet({ hubUrl: h.wssUrl, devices: [{ id: 'ota-restart', token, model: 'smart_plug' }], rate: 0, ca: h.hub.tls.cert, backoff: { baseMs: 50, capMs: 200 }, otaFaults: () => ({ window: 1 }) });
    try {
      await fleet.start();
      await fleet.waitConnected();
      const model = h.hub.registry.info('ota-restart')!.model;
      sqliteNow(h.hub.firmware.addImage(new Uint8Array(randomBytes(MIB)), model, '3.0.0'));
      // Stopped as soon as the live progress (announced on the bus; the database keeps it once a second) passes 20%.
      let live = 0;
      const first = h.hub;
      first.bus.on('firmware.update', (u) => {
        live = u.percent;
      });
      sqliteNow(first.firmware.update({ device: 'ota-restart' }, '3.0.0'));
      await eventually(() => live >= 20, { timeoutMs: 30_000, what: '20% transferred' });
      await first.stop();
      h = await startHub({ dataDir, overrides: { port, 'firmware.chunkBytes': 4096 } });
      const saved = sqliteNow(h.hub.firmware.updates(1))[0]!;
      expect(saved).toMatchObject({ device: 'ota-restart', state: 'transferring', version: '3.0.0' });
      expect(saved.offset).toBeGreaterThan(0);
      const done = await eventually(() => sqliteNow(h.hub.firmware.updates(1))[0]?.state === 'done' && sqliteNow(h.hub.firmware.updates(1))[0]!, { timeoutMs: 60_000, what: 'the update to finish' });
      expect(done.resumes).toBeGreaterThanOrEqual(1);
      expect(fleet.devices[0]!.ota.stats.acceptedAt[1]).toBeGreaterThanOrEqual(saved.offset);
      expect(h.hub.registry.info('ota-restart')!.firmware).toBe('3.0.0');
    } finally {
      await fleet.stop({ ackTimeoutMs: 1000 });
      await h.hub.stop();
    }
  }, 120_000);
});
