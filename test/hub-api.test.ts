import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Capability, CommandFrame } from '../protocol/types.js';
import type { Hub } from '../hub/hub.js';
import { RawDevice } from './support/raw-device.js';
import { hello, THERMO_CAPS } from './support/fixtures.js';
import { startHub } from './support/hub-harness.js';
import { call } from './support/http.js';
import { eventually } from './support/eventually.js';

let hub: Hub;
let base: string;
let wss: string;
let stop: () => Promise<void>;
let admin: string;

const api = (method: string, path: string, opts: { token?: string | null; body?: unknown; raw?: string } = {}) =>
  call(base, hub.tls.cert, method, path, { ...opts, token: opts.token === null ? undefined : (opts.token ?? admin) });

beforeAll(async () => {
  const h = await startHub({ overrides: { 'devices.commandTimeoutMs': 300 } });
  hub = h.hub;
  stop = h.stop;
  wss = h.wssUrl;
  base = `https://127.0.0.1:${hub.port}`;
  admin = hub.adminToken;
});

afterAll(async () => {
  await stop();
});

describe('HTTP API', () => {
  it('serves /api/health without credentials', async () => {
    const res = await api('GET', '/api/health', { token: null });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ok');
  });

  it('answers 401 without a token and with a wrong one', async () => {
    expect((await api('GET', '/api/devices', { token: null })).status).toBe(401);
    const wrong = await api('GET', '/api/devices', { token: 'nope' });
    expect([wrong.status, wrong.body.error]).toEqual([401, 'HUB_ERR_UNAUTHORIZED']);
  });

  it('provisions a device whose token then connects; refuses duplicates and bad ids', async () => {
    const created = await api('POST', '/api/devices', { body: { id: 'api-1', name: 'Living room', type: 'thermostat' } });
    expect(created.status).toBe(201);
    expect(created.body.device).toMatchObject({ id: 'api-1', name: 'Living room', type: 'thermostat', online: false });
    expect(typeof created.body.token).toBe('string');
    const { device } = await RawDevice.greet(wss, 'api-1', created.body.token, hello());
    await device.close();
    expect((await api('POST', '/api/devices', { body: { id: 'api-1' } })).status).toBe(409);
    const bad = await api('POST', '/api/devices', { body: { id: 'no spaces' } });
    expect([bad.status, bad.body.message]).toEqual([400, expect.stringContaining('id')]);
    const reserved = await api('POST', '/api/devices', { body: { id: 'bridge' } });
    expect([reserved.status, reserved.body.message]).toEqual([400, expect.stringContaining('reserved')]);
    const notJson = await api('POST', '/api/devices', { raw: '{oops' });
    expect([notJson.status, notJson.body.message]).toEqual([400, expect.stringContaining('not JSON')]);
  });

  it('lists devices with online state and current values', async () => {
    const created = await api('POST', '/api/devices', { body: { id: 'api-2', type: 'thermostat' } });
    const { device } = await RawDevice.greet(wss, 'api-2', created.body.token, hello());
    device.send({ type: 'telemetry', seq: 1, ts: 1_700_000_000_000, readings: [{ metric: 1, value: { type: 'float', value: 21.5 } }, { metric: 5, value: { type: 'enum', value: 1 } }] });
    await device.ackFor(1);
    const one = await api('GET', '/api/devices/api-2');
    expect(one.body.device).toMatchObject({ id: 'api-2', online: true, model: 'test-thermo' });
    expect(one.body.device.state).toEqual({ temperature: { value: 21.5, ts: 1_700_000_000_000 }, mode: { value: 'heat', ts: 1_700_000_000_000 } });
    const all = await api('GET', '/api/devices');
    expect(all.body.devices.map((d: { id: string }) => d.id)).toContain('api-2');
    await device.close();
    await eventually(async () => expect((await api('GET', '/api/devices/api-2')).body.device.online).toBe(false));
    expect((await api('GET', '/api/devices/nobody')).status).toBe(404);
  });

  it('serves raw and rolled-up history and names bad parameters', async () => {
    const created = await api('POST', '/api/devices', { body: { id: 'api-3' } });
    const { device } = await RawDevice.greet(wss, 'api-3', created.body.token, hello());
    const t0 = Date.UTC(2026, 0, 1, 10, 0, 0);
    const samples = Array.from({ length: 120 }, (_, i) => ({ ts: t0 + i * 1000, metric: 1, value: { type: 'float' as const, value: i } }));
    device.send({ type: 'batch', seq: 1, samples });
    await device.ackFor(1);
    const raw = await api('GET', `/api/devices/api-3/history?metric=temperature&from=${t0}&to=${t0 + 59_999}&step=raw`);
    expect(raw.status).toBe(200);
    expect(raw.body.points).toHaveLength(60);
    expect(raw.body.points[0]).toEqual({ ts: t0, value: 0 });
    const capped = await api('GET', `/api/devices/api-3/history?metric=temperature&from=${t0}&to=${t0 + 200_000}&step=raw&limit=10`);
    expect([capped.body.points.length, capped.body.truncated]).toEqual([10, true]);
    hub.store.compactStep();
    const minutes = await api('GET', `/api/devices/api-3/history?metric=temperature&from=${t0}&to=${t0 + 200_000}&step=minute`);
    expect(minutes.body.points).toEqual([
      { ts: t0, min: 0, max: 59, mean: 29.5, count: 60 },
      { ts: t0 + 60_000, min: 60, max: 119, mean: 89.5, count: 60 },
    ]);
    const iso = await api('GET', `/api/devices/api-3/history?metric=temperature&from=${new Date(t0).toISOString()}&to=${new Date(t0 + 999).toISOString()}`);
    expect(iso.body.points).toEqual([{ ts: t0, value: 0 }]);
    for (const [query, names] of [
      ['', 'metric'],
      ['metric=temperature&from=yesterday', 'from'],
      ['metric=temperature&step=week', 'step'],
      ['metric=temperature&limit=0', 'limit'],
      [`metric=temperature&from=${t0 + 10}&to=${t0}`, 'from'],
    ] as const) {
      const res = await api('GET', `/api/devices/api-3/history?${query}`);
      expect([res.status, res.body.message]).toEqual([400, expect.stringContaining(names)]);
    }
    expect((await api('GET', '/api/devices/api-3/history?metric=pressure')).status).toBe(404);
    await device.close();
  });

  it('[FP-5.1] serves history in JSON form: bool as true/false (rollups: min/max booleans, mean the share of true), enum by name', async () => {
    const heating: Capability = { id: 6, name: 'heating', unit: '', valueType: 'bool', deviceClass: '', writable: false, event: false };
    const created = await api('POST', '/api/devices', { body: { id: 'api-bool' } });
    const { device } = await RawDevice.greet(wss, 'api-bool', created.body.token, hello(0, [...THERMO_CAPS, heating]));
    const t0 = Date.UTC(2026, 0, 1, 11, 0, 0);
    const on = [true, true, false, true];
    const samples = [
      { ts: t0, metric: 5, value: { type: 'enum' as const, value: 2 } },
      ...on.map((value, i) => ({ ts: t0 + i * 1000, metric: 6, value: { type: 'bool' as const, value } })),
    ];
    device.send({ type: 'batch', seq: 1, samples });
    await device.ackFor(1);
    const query = (metric: string, step: string) => api('GET', `/api/devices/api-bool/history?metric=${metric}&from=${t0}&to=${t0 + 59_999}&step=${step}`);
    const expectedRaw = on.map((value, i) => ({ ts: t0 + i * 1000, value }));
    expect((await query('heating', 'raw')).body.points).toEqual(expectedRaw);
    expect((await query('mode', 'raw')).body.points).toEqual([{ ts: t0, value: 'eco' }]);
    const rollup = [{ ts: t0, min: false, max: true, mean: 0.75, count: 4 }];
    expect((await query('heating', 'minute')).body.points).toEqual(rollup);
    hub.store.compactStep();
    expect((await query('heating', 'raw')).body.points).toEqual(expectedRaw);
    expect((await query('heating', 'minute')).body.points).toEqual(rollup);
    await device.close();
  });

  it('sends a command to the device and returns its result; offline, invalid and timeout answered clearly', async () => {
    const created = await api('POST', '/api/devices', { body: { id: 'api-4' } });
    const offline = await api('POST', '/api/devices/api-4/commands', { body: { command: 'setpoint', value: 21 } });
    expect([offline.status, offline.body.status]).toEqual([409, 'offline']);
    const { device } = await RawDevice.greet(wss, 'api-4', created.body.token, hello());
    const pending = api('POST', '/api/devices/api-4/commands', { body: { command: 'setpoint', value: '22.5' } });
    const command = (await device.next('command')) as CommandFrame;
    expect(command).toMatchObject({ metric: 3, value: { type: 'float', value: 22.5 } });
    device.send({ type: 'command_result', id: command.id, status: 'ok', message: '' });
    const done = await pending;
    expect([done.status, done.body.status]).toEqual([200, 'ok']);
    const invalid = await api('POST', '/api/devices/api-4/commands', { body: { command: 'setpoint', value: 99 } });
    expect([invalid.status, invalid.body.message]).toEqual([400, expect.stringContaining('between 5 and 30')]);
    const unsupported = await api('POST', '/api/devices/api-4/commands', { body: { command: 'temperature', value: 1 } });
    expect([unsupported.status, unsupported.body.status]).toEqual([400, 'unsupported']);
    const timeout = await api('POST', '/api/devices/api-4/commands', { body: { command: 'mode', value: 'eco' } });
    expect([timeout.status, timeout.body.status]).toEqual([504, 'timeout']);
    const log = await api('GET', '/api/devices/api-4/commands');
    expect(log.body.commands.map((c: { status: string }) => c.status)).toEqual(['timeout', 'ok']);
    await device.close();
  });

  it('serves /healthz, /readyz and Prometheus /metrics fed by real ingest', async () => {
    expect((await api('GET', '/healthz', { token: null })).body).toEqual({ status: 'alive' });
    expect((await api('GET', '/readyz', { token: null })).body).toEqual({ status: 'ready', storage: 'ok', broker: 'ok' });
    const created = await api('POST', '/api/devices', { body: { id: 'api-metrics' } });
    const { device } = await RawDevice.greet(wss, 'api-metrics', created.body.token, hello());
    device.send({ type: 'telemetry', seq: 1, ts: Date.now(), readings: [{ metric: 1, value: { type: 'float', value: 1 } }, { metric: 2, value: { type: 'float', value: 50 } }] });
    await device.ackFor(1);
    device.send(Uint8Array.from([0x10, 0x42]));
    await device.closed;
    const metrics = await api('GET', '/metrics', { token: null });
    expect(metrics.headers['content-type']).toContain('text/plain; version=0.0.4');
    const sample = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics.body as string)?.[1]);
    expect(sample('hearth_readings_committed_total')).toBeGreaterThanOrEqual(2);
    expect(sample('hearth_commit_batch_size_count')).toBeGreaterThanOrEqual(1);
    expect(metrics.body).toMatch(/^hearth_frames_refused_total\{code="PROTO_ERR_UNKNOWN_TYPE"\} 1$/m);
    expect(metrics.body).toMatch(/^process_resident_memory_bytes \d+/m);
  });

  it('revokes a device with DELETE', async () => {
    const created = await api('POST', '/api/devices', { body: { id: 'api-5' } });
    const { device } = await RawDevice.greet(wss, 'api-5', created.body.token, hello());
    expect((await api('DELETE', '/api/devices/api-5')).status).toBe(200);
    expect((await device.closed).code).toBe(4010);
    expect((await api('GET', '/api/devices/api-5')).status).toBe(404);
  });

  it('renames a device and sets or clears its room with PATCH (admin); bad bodies and unknown devices answered clearly', async () => {
    await api('POST', '/api/devices', { body: { id: 'api-6', name: 'Sensor' } });
    const patched = await api('PATCH', '/api/devices/api-6', { body: { name: 'Hall sensor', room: 'Hall' } });
    expect([patched.status, patched.body.device]).toEqual([200, expect.objectContaining({ id: 'api-6', name: 'Hall sensor', room: 'Hall', state: {} })]);
    expect((await api('GET', '/api/devices/api-6')).body.device).toMatchObject({ name: 'Hall sensor', room: 'Hall' });
    expect((await api('PATCH', '/api/devices/api-6', { body: { room: null } })).body.device).toMatchObject({ name: 'Hall sensor', room: null });
    const empty = await api('PATCH', '/api/devices/api-6', { body: {} });
    expect([empty.status, empty.body]).toEqual([400, { error: 'HUB_ERR_BAD_REQUEST', message: 'give name, room or both' }]);
    const blank = await api('PATCH', '/api/devices/api-6', { body: { name: '  ' } });
    expect([blank.status, blank.body.message]).toEqual([400, expect.stringContaining('name')]);
    const long = await api('PATCH', '/api/devices/api-6', { body: { room: 'x'.repeat(65) } });
    expect([long.status, long.body.message]).toEqual([400, expect.stringContaining('room')]);
    expect((await api('PATCH', '/api/devices/nope', { body: { name: 'x' } })).status).toBe(404);
  });
});
