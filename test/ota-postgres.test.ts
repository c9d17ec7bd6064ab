// Firmware updates on PostgreSQL (firmware-protocol.md section 14): in-process hubs on a throwaway cluster and
// the simulator as a library. The image bytes live in the database (firmware_chunks, migration 3), so any hub
// on it serves an image it never saw, and an update's state is there, so a device that moves to another hub
// mid-transfer resumes there [FP-14.6].
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from '@jest/globals';
import mqtt from 'mqtt';
import { Fleet } from '../device-sim/index.js';
import { EXIT, main } from '../hub/cli.js';
import type { FirmwareUpdateStatus } from '../hub/firmware/update-status.js';
import { FIRMWARE_CHUNK_BYTES } from '../hub/storage/pg/pg-image-bytes.js';
import { describePg } from '../hub/storage/testing/pg-cluster.js';
import { eventually } from './support/eventually.js';
import { startHub } from './support/hub-harness.js';
import { call } from './support/http.js';
import { sql } from '../hub/storage/testing/pg-sql.js';

const KIB = 1024;
const MIB = 1024 * KIB;

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'hearth-pgfw-'));
  dirs.push(d);
  return d;
};

type Io = Parameters<typeof main>[1];
async function hearth(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const sink = (list: string[]) => ({ write: (t: string) => (list.push(t), true) });
  const code = await main(args, { out: sink(out), err: sink(err), stdin: process.stdin } as unknown as Io);
  return { code, out: out.join(''), err: err.join('') };
}

interface UpdateRow {
  id: number;
  state: string;
  offset: number;
  resumes: number;
  version: string;
}
const updatesOf = (url: string, device: string) =>
  sql<UpdateRow>(url, 'SELECT id::int AS id, state, "offset"::int AS "offset", resumes, version FROM firmware_updates WHERE device_id = $1 ORDER BY id', [device]);

type Started = Awaited<ReturnType<typeof startHub>>;
const FW = { 'firmware.chunkBytes': 4096 } as const;

/** Provisions `id` on `h` and connects it with the simulator to `hubs` (the first dialled first); resolves once online. */
async function simulated(h: Started, id: string, hubs: string[], ota?: { window?: number; disconnectAt?: number[] }): Promise<Fleet> {
  const { token } = await h.hub.registry.provision(id, id, 'smart_plug', Date.now());
  const fleet = new Fleet({ hubUrl: hubs, devices: [{ id, token, model: 'smart_plug' }], rate: 0, ca: h.hub.tls.cert, backoff: { baseMs: 50, capMs: 200 }, otaFaults: () => ota });
  await fleet.start();
  await fleet.waitConnected();
  return fleet;
}

/** Two hubs on one database with one certificate (hub A's), as one installation's hubs: a device trusts both. */
async function twoHubs(url: string, name: string): Promise<[Started, Started]> {
  const a = await startHub({ overrides: { 'db.url': url, 'hub.id': `${name}-a`, ...FW } });
  const dir = tempDir();
  writeFileSync(join(dir, 'cert.pem'), a.hub.tls.cert);
  writeFileSync(join(dir, 'key.pem'), a.hub.tls.key);
  const b = await startHub({ overrides: { 'db.url': url, 'hub.id': `${name}-b`, 'tls.cert': join(dir, 'cert.pem'), 'tls.key': join(dir, 'key.pem'), ...FW } }).catch(async (err: unknown) => {
    await a.stop();
    throw err;
  });
  return [a, b];
}

describePg('firmware updates on PostgreSQL [FP-14]', (cluster) => {
  it('[FP-14.3][FP-14.7] an image added and an update queued by hearth firmware --db-url reach the device; done in the database', async () => {
    const url = await cluster().createDatabase('fw_cli');
    // With the embedded broker: Home Assistant's update entity follows the update on PostgreSQL too.
    const h = await startHub({ overrides: { 'db.url': url, 'hub.id': 'fw-cli', ...FW, 'mqtt.embedded': true, 'mqtt.port': 0, 'mqtt.allowAnonymous': true } });
    let fleet: Fleet | undefined;
    const updateTopic: Record<string, unknown>[] = [];
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${(h.hub.mqtt!.addresses().tcp as { port: number }).port}`, { protocolVersion: 5 });
    client.on('message', (_t, payload) => updateTopic.push(JSON.parse(payload.toString()) as Record<string, unknown>));
    await client.subscribeAsync('hearth/plug-cli/update');
    try {
      fleet = await simulated(h, 'plug-cli', [h.wssUrl]);
      const model = h.hub.registry.info('plug-cli')!.model;
      const before = h.hub.registry.info('plug-cli')!.firmware;
      const file = join(tempDir(), 'plug-7.0.0.bin');
      writeFileSync(file, randomBytes(MIB));
      // The CLI's own data directory, not the hub's: the bytes go to PostgreSQL, never to a file.
      const cliDir = tempDir();
      const added = await hearth(['firmware', 'add', file, '--model', model, '--version', '7.0.0', '--db-url', url, '--data-dir', cliDir]);
      expect(added).toMatchObject({ code: EXIT.OK, out: expect.stringContaining(`firmware ${model} 7.0.0 stored: ${MIB} bytes`) });
      const [chunks] = await sql<{ n: number; bytes: number }>(url, 'SELECT count(*)::int AS n, sum(length(data))::int AS bytes FROM firmware_chunks');
      expect(chunks).toEqual({ n: MIB / FIRMWARE_CHUNK_BYTES, bytes: MIB });
      expect(existsSync(join(cliDir, 'firmware'))).toBe(false);

      const queued = await hearth(['firmware', 'update', 'plug-cli', '--version', '7.0.0', '--db-url', url]);
      expect(queued).toMatchObject({ code: EXIT.OK, out: expect.stringMatching(/^update \d+: plug-cli .* -> 7\.0\.0 queued/) });

      // The hub's tick finds the queued update, offers it, and the device reboots into 7.0.0.
      const [done] = await eventually(async () => {
        const rows = await updatesOf(url, 'plug-cli');
        return rows[0]?.state === 'done' && rows;
      }, { timeoutMs: 60_000, what: 'the update to be done in the database' });
      expect(done).toMatchObject({ state: 'done', offset: MIB, resumes: 0, version: '7.0.0' });
      await eventually(() => expect(h.hub.registry.info('plug-cli')!.firmware).toBe('7.0.0'));
      expect(before).not.toBe('7.0.0');
      const device = fleet.devices[0]!;
      expect(device.ota.stats).toMatchObject({ acceptedAt: [0], bytesReceived: MIB, results: ['verified'] });
      expect(existsSync(join(h.dataDir, 'firmware'))).toBe(false);

      const list = await hearth(['firmware', 'list', '--json', '--db-url', url]);
      expect(list.code).toBe(EXIT.OK);
      const listed = JSON.parse(list.out) as { images: { model: string; version: string; size: number }[]; updates: FirmwareUpdateStatus[] };
      expect(listed.images).toEqual([expect.objectContaining({ model, version: '7.0.0', size: MIB })]);
      expect(listed.updates).toEqual([expect.objectContaining({ device: 'plug-cli', state: 'done', percent: 100, fromVersion: before })]);
      // The retained update topic went through the transfer and ends installed.
      expect(updateTopic.some((p) => p['state'] === 'transferring' && p['in_progress'] === true)).toBe(true);
      await eventually(() => expect(updateTopic.at(-1)).toMatchObject({ installed_version: '7.0.0', latest_version: '7.0.0', in_progress: false, state: 'done' }));
    } finally {
      await client.endAsync();
      await fleet?.stop({ ackTimeoutMs: 1000 });
      await h.stop();
    }
  }, 120_000);

  it('[FP-14.3] a second hub on the database serves an image only the first one received (over its HTTP API)', async () => {
    const url = await cluster().createDatabase('fw_two');
    const [a, b] = await twoHubs(url, 'fw');
    let fleet: Fleet | undefined;
    try {
      fleet = await simulated(a, 'plug-b', [b.wssUrl]);
      const api = (method: string, path: string, body?: unknown) => call(`https://127.0.0.1:${a.hub.port}`, a.hub.tls.cert, method, path, { token: a.hub.adminToken, body });
      const model = b.hub.registry.info('plug-b')!.model;
      // Hub A plans the rollout from the database, where hub B stored the device's HELLO model and firmware.
      const image = new Uint8Array(randomBytes(256 * KIB));
      const posted = await fetchPost(a, `/api/firmware?model=${encodeURIComponent(model)}&version=8.0.0`, image);
      expect(posted.status).toBe(201);
      const queued = await api('POST', '/api/firmware/updates', { device: 'plug-b', version: '8.0.0' });
      expect(queued.status).toBe(202);
      expect(queued.body.queued).toEqual([expect.objectContaining({ device: 'plug-b', state: 'queued', size: 256 * KIB })]);

      const offeredBy: string[] = [];
      b.hub.bus.on('firmware.update', (u: FirmwareUpdateStatus) => void (u.device === 'plug-b' && offeredBy.push(u.state)));
      await eventually(async () => (await updatesOf(url, 'plug-b'))[0]?.state === 'done', { timeoutMs: 60_000, what: 'the update to be done' });
      // Hub B sent every byte: it read them from PostgreSQL (checked against their SHA-256) and never had a file.
      expect(fleet.devices[0]!.ota.stats).toMatchObject({ acceptedAt: [0], bytesReceived: 256 * KIB, results: ['verified'] });
      expect(offeredBy).toContain('transferring');
      expect(offeredBy.at(-1)).toBe('done');
      expect(existsSync(join(b.dataDir, 'firmware'))).toBe(false);
      // Hub A's API answers from the database: it shows the update hub B finished.
      const seen = await api('GET', '/api/firmware');
      expect(seen.body.updates).toEqual([expect.objectContaining({ device: 'plug-b', state: 'done', version: '8.0.0' })]);
    } finally {
      await fleet?.stop({ ackTimeoutMs: 1000 });
      await Promise.all([a.stop(), b.stop()]);
    }
  }, 120_000);

  it('[FP-14.6] a device that moves to another hub mid-transfer resumes there from the offset it confirmed', async () => {
    const url = await cluster().createDatabase('fw_move');
    const [a, b] = await twoHubs(url, 'fw-move');
    let fleet: Fleet | undefined;
    try {
      // The device drops its connection at 40% and dials the next hub of its list, B [FP-10.8].
      fleet = await simulated(a, 'plug-move', [a.wssUrl, b.wssUrl], { window: 2, disconnectAt: [0.4] });
      const model = a.hub.registry.info('plug-move')!.model;
      const size = 512 * KIB;
      await a.hub.firmware.addImage(new Uint8Array(randomBytes(size)), model, '9.0.0');
      const onB: FirmwareUpdateStatus[] = [];
      b.hub.bus.on('firmware.update', (u: FirmwareUpdateStatus) => void (u.device === 'plug-move' && onB.push(u)));
      const { queued } = await a.hub.firmware.update({ device: 'plug-move' }, '9.0.0');
      expect(queued).toHaveLength(1);

      const [done] = await eventually(async () => {
        const rows = await updatesOf(url, 'plug-move');
        return rows[0]?.state === 'done' && rows;
      }, { timeoutMs: 60_000, what: 'the update to be done' });
      expect(done).toMatchObject({ state: 'done', offset: size, resumes: 1 });
      const stats = fleet.devices[0]!.ota.stats;
      // Accepted from 0 on hub A, then from where it stopped (about 40%) on hub B; about one image in all.
      expect(stats.acceptedAt).toHaveLength(2);
      expect(stats.acceptedAt[0]).toBe(0);
      expect(stats.acceptedAt[1]).toBeGreaterThanOrEqual(0.4 * size - 2 * 4096);
      expect(stats.bytesReceived).toBeLessThan(size + 4 * 4096);
      expect(stats.results).toEqual(['verified']);
      // Hub B ran the rest: its first announcement is the resumed accept, above 0.
      const firstOnB = onB.find((u) => u.state === 'transferring')!;
      expect(firstOnB.offset).toBe(stats.acceptedAt[1]);
      expect(firstOnB.resumes).toBe(1);
      // After the reboot it dials the next hub (A again): its HELLO reports 9.0.0 there.
      await eventually(async () => expect(await sql(url, "SELECT firmware FROM devices WHERE id = 'plug-move'")).toEqual([{ firmware: '9.0.0' }]));
    } finally {
      await fleet?.stop({ ackTimeoutMs: 1000 });
      await Promise.all([a.stop(), b.stop()]);
    }
  }, 120_000);
});

/** POSTs raw bytes (an image) to the hub's API as its admin; resolves with the status. */
function fetchPost(h: Started, path: string, bytes: Uint8Array): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const headers = { authorization: `Bearer ${h.hub.adminToken}`, 'content-type': 'application/octet-stream', 'content-length': bytes.length };
    const req = request(`${h.hub.url}${path}`, { method: 'POST', ca: h.hub.tls.cert, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on('error', reject);
    req.end(Buffer.from(bytes));
  });
}
