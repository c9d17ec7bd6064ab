// The hub on PostgreSQL (issue #16 sections 1 and 2), in-process on a throwaway cluster: devices, ingest
// and the HTTP API answering from PostgreSQL, the command log, fencing between two hubs on one database,
// and the config/CLI boundary of db.url. The SIGKILL test with a simulated fleet is hub-postgres-crash.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from '@jest/globals';
import pg from 'pg';
import type { CommandFrame } from '../protocol/types.js';
import { EXIT, main } from '../hub/cli.js';
import { PgStore } from '../hub/storage/pg/pg-store.js';
import { describePg } from '../hub/storage/testing/pg-cluster.js';
import { eventually } from './support/eventually.js';
import { hello } from './support/fixtures.js';
import { startHub } from './support/hub-harness.js';
import { call } from './support/http.js';
import { RawDevice } from './support/raw-device.js';
import { sql } from '../hub/storage/testing/pg-sql.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'hearth-pghub-'));
  dirs.push(d);
  return d;
};

type Io = Parameters<typeof main>[1];
function io(): { io: Io; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const sink = (list: string[]) => ({ write: (t: string) => (list.push(t), true) });
  return { io: { out: sink(out), err: sink(err), stdin: process.stdin } as unknown as Io, out, err };
}

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
const float = (value: number) => ({ type: 'float' as const, value });

describePg('the hub on PostgreSQL', (cluster) => {
  it('authenticates, ingests exactly once and serves devices, history and events over the API from PostgreSQL', async () => {
    const url = await cluster().createDatabase('hub');
    const h = await startHub({ overrides: { 'db.url': url, 'hub.id': 'pg-a' } });
    try {
      const base = `https://127.0.0.1:${h.hub.port}`;
      const api = (method: string, path: string, body?: unknown) => call(base, h.hub.tls.cert, method, path, { token: h.hub.adminToken, body });
      const created = await api('POST', '/api/devices', { id: 'pg-1', name: 'Hall', type: 'thermostat' });
      expect(created.status).toBe(201);
      const { device, welcome } = await RawDevice.greet(h.wssUrl, 'pg-1', created.body.token, hello());
      expect(welcome.nextSeq).toBe(1);
      for (let seq = 1; seq <= 20; seq++) device.send({ type: 'telemetry', seq, ts: T0 + seq * 1000, readings: [{ metric: 1, value: float(seq) }] });
      await device.ackFor(20);
      device.send({ type: 'telemetry', seq: 20, ts: T0 + 20_000, readings: [{ metric: 1, value: float(20) }] }); // a resend [FP-8.7]
      await device.ackFor(20);
      device.send({ type: 'event', seq: 21, ts: T0 + 30_000, metric: 4, value: { type: 'bool', value: true } });
      await device.ackFor(21);

      const [row] = await sql<{ n: string }>(url, "SELECT count(*) AS n FROM readings r JOIN series s ON s.id = r.series WHERE s.device_id = 'pg-1'");
      expect(Number(row!.n)).toBe(20);
      const hist = await api('GET', `/api/devices/pg-1/history?metric=temperature&from=${T0}&to=${T0 + 60_000}&step=raw`);
      expect(hist.status).toBe(200);
      expect(hist.body.points).toHaveLength(20);
      expect(hist.body.points[0]).toEqual({ ts: T0 + 1000, value: 1 });
      const events = await api('GET', `/api/devices/pg-1/events?from=${T0}&to=${T0 + 60_000}`);
      expect(events.body.events).toEqual([{ name: 'motion', ts: T0 + 30_000, value: true }]);
      const one = await api('GET', '/api/devices/pg-1');
      expect(one.body.device).toMatchObject({ id: 'pg-1', online: true, model: 'test-thermo', state: { temperature: { value: 20, ts: T0 + 20_000 } } });
      const hub = await api('GET', '/api/hub');
      expect(hub.body.storage).toMatchObject({ compaction: { engine: 'postgresql' } });
      const metrics = await api('GET', '/metrics');
      expect(metrics.status).toBe(200);
      await device.close();

      // A device added by the CLI on the same database is accepted at once (looked up on its first connection).
      const cli = io();
      expect(await main(['device', 'add', 'pg-cli', '--db-url', url, '--data-dir', h.dataDir], cli.io)).toBe(EXIT.OK);
      const token = cli.out.join('').trim().split('\n').at(-1)!;
      const { device: fromCli } = await RawDevice.greet(h.wssUrl, 'pg-cli', token, hello());
      await fromCli.close();
      const list = io();
      expect(await main(['device', 'list', '--json', '--db-url', url], list.io)).toBe(EXIT.OK);
      expect(JSON.parse(list.out.join('')).map((d: { id: string }) => d.id)).toEqual(['pg-1', 'pg-cli']);
      expect(await main(['device', 'revoke', 'pg-cli', '--db-url', url], io().io)).toBe(EXIT.OK);
      // Revoked in the database: the hub's memory follows at its next look at the device change log (every second).
      await eventually(async () => expect(await RawDevice.connect(h.wssUrl, 'pg-cli', token).then((d) => (d.close(), 'connected'), (r: { status: number }) => r.status)).toBe(401), 15_000);
    } finally {
      await h.stop();
    }
  }, 60_000);

  it('logs a command on PostgreSQL and returns the device result', async () => {
    const url = await cluster().createDatabase('cmd');
    const h = await startHub({ overrides: { 'db.url': url, 'hub.id': 'pg-cmd', 'devices.commandTimeoutMs': 2000 } });
    try {
      const base = `https://127.0.0.1:${h.hub.port}`;
      const api = (method: string, path: string, body?: unknown) => call(base, h.hub.tls.cert, method, path, { token: h.hub.adminToken, body });
      const created = await api('POST', '/api/devices', { id: 'pg-cmd-1' });
      const { device } = await RawDevice.greet(h.wssUrl, 'pg-cmd-1', created.body.token, hello());
      const pending = api('POST', '/api/devices/pg-cmd-1/commands', { command: 'setpoint', value: 22.5 });
      const command = (await device.next('command')) as CommandFrame;
      expect(command).toMatchObject({ metric: 3, value: { type: 'float', value: 22.5 } });
      device.send({ type: 'command_result', id: command.id, status: 'ok', message: 'set' });
      const done = await pending;
      expect([done.status, done.body.status]).toEqual([200, 'ok']);
      await eventually(async () => {
        const rows = await sql<{ id: number; command: string; num: number; status: string; message: string; source: string }>(
          url, 'SELECT id::int AS id, command, num, status, message, source FROM commands WHERE device_id = $1', ['pg-cmd-1']);
        expect(rows).toEqual([{ id: command.id, command: 'setpoint', num: 22.5, status: 'ok', message: 'set', source: expect.any(String) }]);
      });
      const log = await api('GET', '/api/devices/pg-cmd-1/commands');
      expect(log.body.commands).toMatchObject([{ id: command.id, command: 'setpoint', status: 'ok' }]);
      await device.close();
    } finally {
      await h.stop();
    }
  }, 60_000);

  it('hands a device over: the hub that lost it closes its connection with 4009 and the new one goes on from its sequence', async () => {
    const url = await cluster().createDatabase('fence');
    const a = await startHub({ overrides: { 'db.url': url, 'hub.id': 'hub-a', 'ingest.commitIntervalMs': 0 } });
    const b = await startHub({ overrides: { 'db.url': url, 'hub.id': 'hub-b' } });
    try {
      const base = `https://127.0.0.1:${a.hub.port}`;
      const created = await call(base, a.hub.tls.cert, 'POST', '/api/devices', { token: a.hub.adminToken, body: { id: 'roam-1' } });
      const token = created.body.token as string;
      const onA = (await RawDevice.greet(a.wssUrl, 'roam-1', token, hello())).device;
      for (let seq = 1; seq <= 5; seq++) onA.send({ type: 'telemetry', seq, ts: T0 + seq, readings: [{ metric: 1, value: float(seq) }] });
      await onA.ackFor(5);
      const probe = await opened(url);
      expect(await probe.owner('roam-1')).toEqual({ hubId: 'hub-a', epoch: 1 });
      await probe.close();

      // The device moves to hub B (which knows it only from the database) and goes on from seq 6 there.
      const { device: onB, welcome } = await RawDevice.greet(b.wssUrl, 'roam-1', token, hello());
      expect(welcome.nextSeq).toBe(6);
      onB.send({ type: 'telemetry', seq: 6, ts: T0 + 6, readings: [{ metric: 1, value: float(6) }] });
      await onB.ackFor(6);

      // Hub A heard B's claim (NOTIFY) and closed its old connection without a frame on it; a frame A
      // accepted before would have been fenced (hub/ingest/ingest-pipeline.pg.test.ts).
      expect((await onA.closed).code).toBe(4009);
      expect(onA.frames.some((f) => f.type === 'ack' && f.seq > 5)).toBe(false);
      await eventually(() => expect(a.logs.filter((l) => l.includes('another hub claimed this device; closing'))).toHaveLength(1));

      // The device resends seq 7 to B, which stores it once.
      onB.send({ type: 'telemetry', seq: 7, ts: T0 + 7, readings: [{ metric: 1, value: float(7) }] });
      await onB.ackFor(7);
      const rows = await sql<{ ts: string; num: number }>(url, "SELECT r.ts, r.num FROM readings r JOIN series s ON s.id = r.series WHERE s.device_id = 'roam-1' ORDER BY r.ts");
      expect(rows.map((r) => r.num)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      const [state] = await sql<{ seq: string }>(url, "SELECT seq FROM device_state WHERE device_id = 'roam-1'");
      expect(Number(state!.seq)).toBe(7);
      await onB.close();
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  }, 60_000);

  it('refuses a bad db.url at start with a clear message and exit code: unparsable, unreachable, newer schema', async () => {
    const args = (dbUrl: string) => ['start', '--db-url', dbUrl, '--data-dir', tempDir(), '--port', '0', '--mqtt-port', 'off', '--mqtt-tls-port', 'off'];

    const bad = io();
    expect(await main(args('mysql://ann:secret@db/hearth'), bad.io)).toBe(EXIT.CONFIG);
    expect(bad.err.join('')).toContain('db.url (HEARTH_DB_URL, --db-url)');
    expect(bad.err.join('')).not.toContain('secret');

    // A port nobody listens on.
    const closed = `postgres://hearth:secret@127.0.0.1:${cluster().port === 1 ? 2 : 1}/hearth`;
    const down = io();
    expect(await main(args(closed), down.io)).toBe(EXIT.FAILED);
    expect(down.err.join('')).toContain('HUB_ERR_DB_UNREACHABLE: cannot connect to PostgreSQL at 127.0.0.1:1/hearth');
    expect(down.err.join('')).not.toContain('secret');

    const url = await cluster().createDatabase('newer');
    const store = await opened(url);
    await store.close();
    await sql(url, 'UPDATE hearth_schema SET version = version + 1');
    const newer = io();
    expect(await main(args(url), newer.io)).toBe(EXIT.FAILED);
    expect(newer.err.join('')).toContain('HUB_ERR_DB_TOO_NEW');

    const backup = io();
    expect(await main(['backup', join(tempDir(), 'x.db'), '--db-url', url], backup.io)).toBe(EXIT.FAILED);
    expect(backup.err.join('')).toContain('pg_dump');
    const firmware = io();
    expect(await main(['firmware', 'list', '--db-url', url], firmware.io)).toBe(EXIT.FAILED);
    expect(firmware.err.join('')).toContain('HUB_ERR_DB_TOO_NEW');
  }, 60_000);
});

async function opened(url: string): Promise<PgStore> {
  const store = new PgStore({ url, poolSize: 1 });
  await store.open();
  return store;
}
