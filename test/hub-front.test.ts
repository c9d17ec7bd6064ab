import { afterEach, describe, expect, it } from '@jest/globals';
import { request } from 'node:https';
import { createServer, connect, type AddressInfo } from 'node:net';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { HubStore } from '../hub/storage/hub-store.js';
import { call } from './support/http.js';
import { startHub } from './support/hub-harness.js';

// The HTTPS front (hub/http/server.ts) owns every route of the port, and the composition root starts the
// parts in order and stops the ones started when one fails.

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

/** Sends a WebSocket upgrade to `path` and resolves with the HTTP status and JSON body it was refused with. */
function upgrade(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: { error?: string; message?: string } }> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      path,
      rejectUnauthorized: false,
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers },
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as { error?: string } }));
    });
    req.on('upgrade', () => reject(new Error(`the upgrade to ${path} was accepted`)));
    req.on('error', reject);
    req.end();
  });
}

describe('the HTTPS front', () => {
  it('routes every upgrade path once: unknown paths 404, a bad %-escape in a device id 401, and the hub keeps serving', async () => {
    const h = await startHub({ overrides: { 'mqtt.embedded': true, 'mqtt.websocket': true } });
    stops.push(h.stop);
    expect(await upgrade(h.hub.port, '/nowhere')).toEqual({ status: 404, body: { error: 'HUB_ERR_NOT_FOUND', message: 'no WebSocket endpoint at /nowhere' } });
    const bad = await upgrade(h.hub.port, '/v1/devices/%zz', { 'Sec-WebSocket-Protocol': 'hearth.v1' });
    expect([bad.status, bad.body.error]).toEqual([401, 'HUB_ERR_UNKNOWN_DEVICE']);
    const foreign = await upgrade(h.hub.port, '/mqtt', { Origin: 'https://evil.example' });
    expect([foreign.status, foreign.body.error]).toEqual([403, 'HUB_ERR_ORIGIN']);
    const ca = h.hub.tls.cert;
    const api = await call(h.hub.url.replace('localhost', '127.0.0.1'), ca, 'GET', '/api/devices/%zz', { token: h.hub.adminToken });
    expect([api.status, api.body.error]).toEqual([400, 'HUB_ERR_BAD_REQUEST']);
    expect((await call(`https://127.0.0.1:${h.hub.port}`, ca, 'GET', '/healthz')).body).toEqual({ status: 'alive' });
  });

  it('answers /mqtt with 404 when MQTT over WebSocket is off', async () => {
    const h = await startHub({ overrides: { 'mqtt.embedded': true, 'mqtt.websocket': false } });
    stops.push(h.stop);
    expect((await upgrade(h.hub.port, '/mqtt')).status).toBe(404);
  });
});

describe('Hub.start()', () => {
  it('when a part fails (the MQTT port is taken): logs which one, and stops the parts already started', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    stops.push(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    const taken = (blocker.address() as AddressInfo).port;
    let logs: string[] = [];
    let dataDir = '';
    await expect(
      startHub({ overrides: { 'mqtt.embedded': true, 'mqtt.port': taken } }).catch((err: Error & { logs?: string[]; dataDir?: string }) => {
        logs = err.logs ?? [];
        dataDir = err.dataDir ?? '';
        throw err;
      }),
    ).rejects.toThrow(/EADDRINUSE/);
    const failed = logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.part === 'mqtt');
    expect(failed).toMatchObject({ level: 50, msg: expect.stringContaining('mqtt failed to start') });
    // The HTTPS listener started before MQTT is closed again, and the database was closed: another store opens it.
    const httpsPort = Number(logs.map((l) => JSON.parse(l) as { port?: number; msg?: string }).find((l) => l.msg === 'HTTPS listening')?.port);
    expect(httpsPort).toBeGreaterThan(0);
    await expect(new Promise((resolve, reject) => connect(httpsPort, '127.0.0.1').on('connect', resolve).on('error', reject))).rejects.toThrow(/ECONNREFUSED/);
    const store = new HubStore({ path: join(dataDir, 'hearth.db') });
    store.open();
    expect(store.listDevices()).toEqual([]);
    store.close();
    expect(readFileSync(join(dataDir, 'admin.token'), 'utf8')).toMatch(/^ha1_/);
    rmSync(dataDir, { recursive: true, force: true });
  });
});
