// Firmware updates from the outside: the HTTP API, the `hearth firmware` CLI and MQTT (the Home Assistant update
// entity's topics), against a real hub with its embedded broker and a simulated device [FP-14].
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { request } from 'node:https';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import mqtt, { type MqttClient } from 'mqtt';
import { Fleet } from '../device-sim/index.js';
import { main } from '../hub/cli.js';
import type { FirmwareUpdatePayload } from '../hub/mqtt/topics.js';
import { startHub } from './support/hub-harness.js';
import { eventually } from './support/eventually.js';
import { sqliteNow } from '../hub/testing/sqlite-now.js';

let h: Awaited<ReturnType<typeof startHub>>;
let fleet: Fleet;
let client: MqttClient;
const updates: FirmwareUpdatePayload[] = [];
const IMAGE = new Uint8Array(randomBytes(64 * 1024 + 7));

/** One HTTPS request to the hub (its CA trusted), a JSON or raw binary body. */
function api(method: string, path: string, body?: Uint8Array | object, token = h.hub.adminToken): Promise<{ status: number; json: any }> {
  const payload = body === undefined ? undefined : body instanceof Uint8Array ? Buffer.from(body) : Buffer.from(JSON.stringify(body));
  const type = body instanceof Uint8Array ? 'application/octet-stream' : 'application/json';
  return new Promise((resolve, reject) => {
    const req = request(`${h.hub.url}${path}`, { method, ca: h.hub.tls.cert, headers: { authorization: `Bearer ${token}`, ...(payload ? { 'content-type': type, 'content-length': payload.length } : {}) } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

beforeAll(async () => {
  h = await startHub({ overrides: { 'mqtt.embedded': true, 'mqtt.port': 0, 'mqtt.tlsPort': null, 'mqtt.websocket': false, 'firmware.chunkBytes': 8192 } });
  await h.hub.auth.users.add('ha', 'integration-pass', 'integration');
  client = await mqtt.connectAsync(`mqtt://127.0.0.1:${h.hub.mqtt!.addresses().tcp!.port}`, { username: 'ha', password: 'integration-pass', reconnectPeriod: 0 });
  client.on('message', (topic, payload) => {
    if (topic === 'hearth/api-plug/update') updates.push(JSON.parse(payload.toString()) as FirmwareUpdatePayload);
  });
  await client.subscribeAsync('hearth/api-plug/update');
  const { token } = sqliteNow(h.hub.registry.provision('api-plug', 'Plug', 'smart_plug', Date.now()));
  fleet = new Fleet({ hubUrl: h.wssUrl, devices: [{ id: 'api-plug', token, model: 'smart_plug' }], rate: 0, ca: h.hub.tls.cert, backoff: { baseMs: 20, capMs: 100 } });
  await fleet.start();
  await fleet.waitConnected();
}, 30_000);

afterAll(async () => {
  await fleet?.stop({ ackTimeoutMs: 500 });
  await client?.endAsync();
  await h?.stop();
});

describe('HTTP API /api/firmware [FP-14]', () => {
  it('stores an image (201, then 200 for the same bytes), refuses clashes, bad input and other roles', async () => {
    const model = h.hub.registry.info('api-plug')!.model;
    const added = await api('POST', `/api/firmware?model=${encodeURIComponent(model)}&version=7.0.0`, IMAGE);
    expect(added).toMatchObject({ status: 201, json: { image: { model, version: '7.0.0', size: IMAGE.length } } });
    expect(added.json.image.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect((await api('POST', `/api/firmware?model=${encodeURIComponent(model)}&version=7.0.0`, IMAGE)).status).toBe(200);
    const clash = await api('POST', `/api/firmware?model=${encodeURIComponent(model)}&version=7.0.0`, Uint8Array.of(1, 2, 3));
    expect(clash).toMatchObject({ status: 409, json: { error: 'HUB_ERR_FIRMWARE_EXISTS' } });
    expect(await api('POST', '/api/firmware?model=x', IMAGE)).toMatchObject({ status: 400, json: { error: 'HUB_ERR_BAD_REQUEST' } });
    expect(await api('POST', '/api/firmware/updates', { device: 'api-plug', version: '9.9.9' })).toMatchObject({ status: 404, json: { error: 'HUB_ERR_UNKNOWN_FIRMWARE' } });
    expect(await api('POST', '/api/firmware/updates', { device: 'nobody', version: '7.0.0' })).toMatchObject({ status: 404, json: { error: 'HUB_ERR_UNKNOWN_DEVICE' } });
    expect(await api('POST', '/api/firmware/updates', { device: 'api-plug', model, version: '7.0.0' })).toMatchObject({ status: 400, json: { error: 'HUB_ERR_BAD_REQUEST' } });
    const listed = await api('GET', '/api/firmware');
    expect(listed.json.images).toEqual([added.json.image]);
  });

  it('[FP-14] the MQTT update entity shows the new version as latest; Install over MQTT updates the device, with progress on its topic', async () => {
    const device = h.hub.registry.info('api-plug')!;
    expect(device.updatable).toBe(true);
    await eventually(() => expect(updates.at(-1)).toMatchObject({ installed_version: device.firmware, latest_version: '7.0.0', in_progress: false }));
    await client.publishAsync('hearth/api-plug/update/install', 'install');
    await eventually(() => expect(updates.at(-1)).toMatchObject({ installed_version: '7.0.0', latest_version: '7.0.0', in_progress: false, state: 'done' }), 20_000);
    const transferring = updates.filter((u) => u.state === 'transferring');
    expect(transferring.length).toBeGreaterThan(0);
    expect(transferring.every((u) => u.in_progress && typeof u.update_percentage === 'number' && u.update_percentage >= 0 && u.update_percentage < 100)).toBe(true);
    const history = await api('GET', '/api/devices/api-plug/firmware');
    expect(history).toMatchObject({ status: 200, json: { device: 'api-plug', updates: [{ state: 'done', version: '7.0.0', fromVersion: device.firmware, percent: 100 }] } });
    // Already there: the API skips it and says why.
    const again = await api('POST', '/api/firmware/updates', { device: 'api-plug', version: '7.0.0' });
    expect(again).toMatchObject({ status: 202, json: { queued: [], skipped: [{ device: 'api-plug', reason: 'already runs 7.0.0' }] } });
  }, 30_000);
});

describe('hearth firmware [FP-14]', () => {
  it('add, update --model and list work on the data directory; errors exit 1 with the reason', async () => {
    const out: string[] = [];
    const io = { out: new Writable({ write: (c, _e, done) => (out.push(String(c)), done()) }), err: new Writable({ write: (c, _e, done) => (out.push(String(c)), done()) }), stdin: process.stdin };
    const file = join(h.dataDir, 'image.bin');
    writeFileSync(file, IMAGE.subarray(1));
    const model = h.hub.registry.info('api-plug')!.model;
    const run = (...args: string[]) => main(['firmware', ...args, '--data-dir', h.dataDir], io as never);
    expect(await run('add', file, '--model', model, '--version', '7.1.0')).toBe(0);
    expect(out.join('')).toMatch(/firmware .* 7\.1\.0 stored: 65542 bytes, sha256 [0-9a-f]{64}/);
    expect(await run('update', '--model', model, '--version', '7.1.0')).toBe(0);
    expect(out.join('')).toMatch(/update \d+: api-plug \S+ -> 7\.1\.0 queued/);
    // The running hub picks the CLI's update up within a second and installs it.
    await eventually(() => expect(h.hub.registry.info('api-plug')!.firmware).toBe('7.1.0'), 20_000);
    expect(await run('list')).toBe(0);
    expect(out.join('')).toMatch(/api-plug \S+ -> 7\.1\.0 {2}done/);
    expect(await run('update', 'api-plug', '--version', '0.0.1')).toBe(1);
    expect(out.join('')).toMatch(/no firmware 0\.0\.1 for model/);
    expect(await run('update', '--version', '7.1.0')).toBe(2);
  }, 30_000);
});
