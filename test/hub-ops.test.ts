import { afterEach, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateTls } from '../hub/tls.js';
import { HubStore } from '../hub/storage/hub-store.js';
import { RawDevice } from './support/raw-device.js';
import { hello } from './support/fixtures.js';
import { startHub } from './support/hub-harness.js';
import { eventually } from './support/eventually.js';
import { HUB_CLI } from './support/hub-process.js';
import { sqliteNow } from '../hub/testing/sqlite-now.js';

const dirs: string[] = [];
const temp = () => {
  const d = mkdtempSync(join(tmpdir(), 'hearth-ops-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const hearth = (args: string[]) => spawnSync(process.execPath, [HUB_CLI, ...args], { encoding: 'utf8', timeout: 20_000 });

describe('the CLI beside a running hub', () => {
  it('a device added by the CLI can connect at once; one revoked by the CLI is cut off within a second (4010)', async () => {
    const dataDir = temp();
    const h = await startHub({ dataDir });
    try {
      const added = hearth(['device', 'add', 'cli-dev', '--data-dir', dataDir]);
      expect(added.status).toBe(0);
      const token = added.stdout.trim().split('\n').pop()!;
      const device = await eventually(() => RawDevice.greet(h.wssUrl, 'cli-dev', token, hello()).then((r) => r.device), 5000);
      device.send({ type: 'telemetry', seq: 1, ts: 1_700_000_000_000, readings: [{ metric: 1, value: { type: 'float', value: 7 } }] });
      await device.ackFor(1);

      const backup = join(dataDir, 'copy.db');
      expect(hearth(['backup', backup, '--data-dir', dataDir]).status).toBe(0);
      const copy = new HubStore({ path: backup });
      copy.open();
      expect(copy.history({ deviceId: 'cli-dev', metric: 'temperature', from: 0, to: Number.MAX_SAFE_INTEGER, step: 'raw', limit: 10 })).toEqual([{ ts: 1_700_000_000_000, value: 7 }]);
      copy.close();

      expect(hearth(['device', 'revoke', 'cli-dev', '--data-dir', dataDir]).status).toBe(0);
      expect((await device.closed).code).toBe(4010);
    } finally {
      await h.stop();
    }
  });
});

describe('heartbeats and compression [FP-10.1] [FP-10.4]', () => {
  it('terminates a device that stops answering pings and marks it offline', async () => {
    const h = await startHub({ overrides: { 'devices.heartbeatMs': 100 } });
    try {
      const { token } = sqliteNow(h.hub.registry.provision('hb-1', 'hb', 'thermostat', Date.now()));
      const { device } = await RawDevice.greet(h.wssUrl, 'hb-1', token, hello());
      expect(h.hub.facade.device('hb-1')?.online).toBe(true);
      // The device hangs: its socket is no longer read, so pings go unanswered.
      (device.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      await eventually(() => expect(h.hub.facade.device('hb-1')?.online).toBe(false), 5000);
      expect(h.hub.facade.hubInfo().devices).toMatchObject({ connections: 0 });
      device.ws.terminate();
    } finally {
      await h.stop();
    }
  });

  it('pings each device every heartbeat, but not all devices on the same tick', async () => {
    // 400 ms: 20 slices pinged in turn, one every 20 ms; six devices join six different slices.
    const h = await startHub({ overrides: { 'devices.heartbeatMs': 400 } });
    try {
      const pings = new Map<string, number[]>();
      const devices = [];
      for (let i = 0; i < 6; i++) {
        const id = `hbs-${i}`;
        const { token } = sqliteNow(h.hub.registry.provision(id, id, 'thermostat', Date.now()));
        const { device } = await RawDevice.greet(h.wssUrl, id, token, hello());
        pings.set(id, []);
        device.ws.on('ping', () => pings.get(id)!.push(performance.now()));
        devices.push(device);
      }
      await eventually(() => expect(Math.min(...[...pings.values()].map((p) => p.length))).toBeGreaterThanOrEqual(2), 10_000);
      const firsts = [...pings.values()].map((p) => p[0]!);
      // Had one tick pinged them all, their first pings would be a millisecond or two apart.
      expect(Math.max(...firsts) - Math.min(...firsts)).toBeGreaterThanOrEqual(50);
      for (const id of pings.keys()) expect(h.hub.facade.device(id)?.online).toBe(true);
      await Promise.all(devices.map((d) => d.close()));
    } finally {
      await h.stop();
    }
  });

  it('negotiates permessage-deflate when a device offers it, and a compressed BATCH is stored', async () => {
    const h = await startHub();
    try {
      const { token } = sqliteNow(h.hub.registry.provision('zip-1', 'zip', 'thermostat', Date.now()));
      const { device } = await RawDevice.greet(h.wssUrl, 'zip-1', token, hello());
      expect(device.ws.extensions).toContain('permessage-deflate');
      const t0 = 1_700_000_000_000;
      const samples = Array.from({ length: 500 }, (_, i) => ({ ts: t0 + i * 1000, metric: 1, value: { type: 'float' as const, value: 20 + (i % 10) / 10 } }));
      device.send({ type: 'batch', seq: 1, samples });
      await device.ackFor(1);
      expect(h.hub.store.history({ deviceId: 'zip-1', metric: 'temperature', from: t0, to: t0 + 10_000_000, step: 'raw', limit: 1000 })).toHaveLength(500);
      await device.close();
    } finally {
      await h.stop();
    }
  });
});

describe('TLS certificate', () => {
  it('generates a self-signed certificate for localhost and 127.0.0.1 once, then reuses it', async () => {
    const dataDir = temp();
    const first = await loadOrCreateTls({ dataDir });
    const again = await loadOrCreateTls({ dataDir });
    const cert = new X509Certificate(first.cert);
    expect(first.generated).toBe(true);
    expect(again).toMatchObject({ generated: false, fingerprint: first.fingerprint });
    expect(cert.subjectAltName).toContain('DNS:localhost');
    expect(cert.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(first.fingerprint).toBe(cert.fingerprint256);
  });

  it('uses a configured certificate pair instead, and names a missing half', async () => {
    const source = await loadOrCreateTls({ dataDir: temp() });
    const dir = temp();
    writeFileSync(join(dir, 'c.pem'), source.cert);
    writeFileSync(join(dir, 'k.pem'), source.key);
    const h = await startHub({ overrides: { 'tls.cert': join(dir, 'c.pem'), 'tls.key': join(dir, 'k.pem') } });
    try {
      expect(h.hub.tls.fingerprint).toBe(source.fingerprint);
      expect(readFileSync(h.hub.tls.certPath, 'utf8')).toBe(source.cert);
    } finally {
      await h.stop();
    }
    await expect(loadOrCreateTls({ dataDir: dir, certFile: join(dir, 'c.pem') })).rejects.toThrow('set both tls.cert and tls.key');
  });
});
