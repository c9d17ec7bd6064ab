import { describe, it, expect } from '@jest/globals';
import { CLOSE_CODES, fromHex } from '../protocol/index.js';
import { ManualClock } from './manual-clock.js';
import { MODELS, thermostat, light } from './models/index.js';
import type { DeviceModel } from './models/model.js';
import { SimDevice, type SimDeviceOptions } from './sim-device.js';
import { eventually } from '../test/support/eventually.js';
import { byTime } from './testing/stored-items.js';
import type { TestHub } from './testing/test-hub.js';
import { testHubs } from './testing/test-hubs.js';

const { defer, startHub } = testHubs({ acceptAnyToken: true });

function device(hub: TestHub, model: DeviceModel, extra: Partial<SimDeviceOptions> = {}): SimDevice {
  const d = new SimDevice({ id: `dev-${model.name}`, token: 'secret', model, hubUrl: hub.url, ca: hub.ca, rate: 0, recordSent: true, ...extra });
  defer(() => d.stop({ ackTimeoutMs: 0 }));
  return d;
}

/** Items of the frames the hub acknowledged for a device, in seq order (the database's view: hub.stored()). */
function ackedItems(hub: TestHub, id: string) {
  return [...hub.device(id).acked.entries()].sort((a, b) => a[0] - b[0]).flatMap(([, items]) => items);
}

describe('SimDevice session', () => {
  it('every model connects over wss with its CA, greets with HELLO and sends telemetry [FP-2.1, FP-2.2, FP-7.1]', async () => {
    const models = Object.values(MODELS);
    const hub = await startHub({ tls: true, tokens: Object.fromEntries(models.map((m) => [`dev-${m.name}`, `token-${m.name}`])), acceptAnyToken: false });
    const devices = models.map((m) => device(hub, m, { token: `token-${m.name}` }));
    await Promise.all(devices.map((d) => d.start()));
    await eventually(() => devices.every((d) => d.online), { what: 'every model online' });
    for (const d of devices) d.sendNow();
    await eventually(() => devices.every((d) => d.outbox.length === 0 && d.counters.acked > 0), { what: 'telemetry acknowledged' });
    for (const d of devices) {
      const record = hub.device(d.id);
      expect(record.hellos).toHaveLength(1);
      expect(record.hellos[0]).toEqual({ type: 'hello', model: d.model.model, firmware: d.model.firmware, lastAckedSeq: 0, capabilities: d.model.capabilities, updates: true }); // [FP-14.1] every model takes updates
      expect(ackedItems(hub, d.id)).toEqual(d.record!.kept().flatMap((f) => f.items));
      expect(hub.stored(d.id)).toEqual(byTime(d.record!.kept().flatMap((f) => f.items)));
      expect(ackedItems(hub, d.id).length).toBeGreaterThan(0);
    }
    expect(hub.refusals).toEqual([]);
  });

  it('does not trust an unknown certificate unless insecure is asked for [FP-2.6]', async () => {
    const hub = await startHub({ tls: true });
    const untrusting = device(hub, light, { id: 'no-ca', ca: undefined });
    const waiting = untrusting.once('waiting');
    await untrusting.start();
    await waiting;
    expect(untrusting.online).toBe(false);
    expect(hub.connections).toBe(0);
    const insecure = device(hub, light, { id: 'insecure', ca: undefined, insecure: true });
    await insecure.start();
    await eventually(() => insecure.online, { what: 'insecure device online' });
  });

  it('a refusal with 401 backs off straight to the cap instead of hammering [FP-2.3]', async () => {
    const hub = await startHub({ tokens: { 'dev-light': 'right' }, acceptAnyToken: false });
    const clock = new ManualClock();
    const d = device(hub, light, { token: 'wrong', clock, backoff: { baseMs: 1000, capMs: 60_000 } });
    const waiting = d.once('waiting');
    await d.start();
    const w = await waiting;
    expect(w.ceilingMs).toBe(60_000);
    expect(w.delayMs).toBeGreaterThanOrEqual(1000);
    expect(w.delayMs).toBeLessThanOrEqual(60_000);
    expect(d.lastRefusal).toEqual({ status: 401, code: 'HUB_ERR_BAD_TOKEN' });
    expect(hub.refusals).toEqual([{ deviceId: 'dev-light', status: 401, code: 'HUB_ERR_BAD_TOKEN' }]);
  });

  it('a command round-trips: applied, answered ok, and the next telemetry shows it [FP-7.7]', async () => {
    const hub = await startHub();
    const d = device(hub, thermostat);
    await d.start();
    await eventually(() => d.online, { what: 'online' });
    const setpoint = thermostat.capabilities.find((c) => c.name === 'setpoint')!;
    const result = await hub.command(d.id, setpoint.id, { type: 'float', value: 26.5 });
    expect(result).toEqual({ type: 'command_result', id: result.id, status: 'ok', message: '' });
    await eventually(() => ackedItems(hub, d.id).some((i) => i.metric === setpoint.id), { what: 'telemetry after the command' });
    expect(ackedItems(hub, d.id).filter((i) => i.metric === setpoint.id).map((i) => i.value)).toEqual([{ type: 'float', value: 26.5 }]);
    expect(hub.stored(d.id).filter((i) => i.metric === setpoint.id).map((i) => i.value)).toEqual([{ type: 'float', value: 26.5 }]);
    expect(d.counters.commands).toBe(1);
  });

  it.each([
    ['out of range', 3, { type: 'float', value: 40 }, 'invalid', /between 5 and 30, got 40/],
    ['of the wrong type', 3, { type: 'int', value: 20 }, 'invalid', /takes a float, got a int/],
    ['for a read-only metric', 1, { type: 'float', value: 20 }, 'unsupported', /not a writable capability/],
    ['for an undeclared metric', 99, { type: 'float', value: 20 }, 'unsupported', /not a writable capability/],
  ] as const)('a command %s is refused with a reason and changes nothing [FP-7.7]', async (_what, metric, value, status, message) => {
    const hub = await startHub();
    const d = device(hub, thermostat);
    await d.start();
    await eventually(() => d.online, { what: 'online' });
    const result = await hub.command(d.id, metric, value);
    expect(result.status).toBe(status);
    expect(result.message).toMatch(message);
    d.sendNow();
    await eventually(() => d.outbox.length === 0 && d.counters.acked === 1, { what: 'next telemetry' });
    const setpoints = ackedItems(hub, d.id).filter((i) => i.metric === 3).map((i) => i.value.value as number);
    expect(hub.stored(d.id).filter((i) => i.metric === 3).map((i) => i.value.value)).toEqual(setpoints);
    expect(setpoints).toHaveLength(1);
    expect(setpoints[0]).not.toBe(value.value);
  });

  it('silence for 3 heartbeats ends the connection and the device reconnects [FP-10.1]', async () => {
    const clock = new ManualClock();
    const hub = await startHub({ heartbeatMs: 1000, now: () => clock.now() });
    const d = device(hub, light, { clock });
    await d.start();
    await eventually(() => d.online, { what: 'online' });
    clock.advance(2000);
    await hub.ping(d.id); // a ping is a sign of life
    clock.advance(2000);
    await hub.command(d.id, 1, { type: 'bool', value: true }); // so is any message
    clock.advance(2999);
    expect(d.online).toBe(true);
    expect(d.counters.watchdogTimeouts).toBe(0);
    const offline = d.once('offline');
    clock.advance(1);
    await offline;
    expect(d.counters.watchdogTimeouts).toBe(1);
    expect(clock.advanceToNext()).toBe(true);
    await eventually(() => d.online, { what: 'back online' });
    expect(d.counters.reconnects).toBe(1);
  });

  it('ignores an extension frame it does not know; closes with 1007 on a frame that does not decode [FP-10.2, FP-11.2]', async () => {
    const clock = new ManualClock();
    const hub = await startHub({ now: () => clock.now() });
    const d = device(hub, light, { clock });
    await d.start();
    await eventually(() => d.online, { what: 'online' });
    hub.sendRaw(d.id, fromHex('1080010203')); // header v1, type 0x80 (extension), payload
    await hub.command(d.id, 1, { type: 'bool', value: false });
    expect(d.online).toBe(true);
    // The telemetry that follows the command commits on the hub's next turn: hold commits only after it did.
    await eventually(() => hub.device(d.id).frames === 1 && d.outbox.length === 0, { what: 'the telemetry after the command acknowledged' });
    hub.ackMode = 'hold';
    d.sendNow();
    await eventually(() => hub.device(d.id).frames === 2, { what: 'a frame waiting for its ACK' });
    const offline = d.once('offline');
    hub.sendRaw(d.id, fromHex('1005')); // an ACK without its seq: PROTO_ERR_TRUNCATED
    expect(await offline).toEqual({ code: 1007, reason: 'PROTO_ERR_TRUNCATED' });
    expect(hub.closes.at(-1)!.code).toBe(1007);
    // The hub's frame was at fault, not ours: nothing of ours is dropped.
    expect(d.counters.drops).toBe(0);
    expect(d.outbox.length).toBe(1);
  });

  it('with several hub addresses, a device whose hub goes away reconnects to the next one [FP-10.8]', async () => {
    const a = await startHub({});
    const b = await startHub({});
    const d = device(a, light, { hubUrl: [a.url, b.url], firstHub: 0 });
    await d.start();
    await eventually(() => d.online && a.device(d.id).hellos.length === 1, { what: 'online on hub a' });
    expect(d.hubUrl).toBe(a.url);
    await a.stop();
    await eventually(() => d.online && b.device(d.id).hellos.length === 1, { what: 'online on hub b' });
    expect(d.hubUrl).toBe(b.url);
    expect(d.counters.reconnects).toBe(1);
  });

  it('a fleet index picks the first hub of several (firstHub wraps around)', () => {
    const d = new SimDevice({ id: 'x', token: 't', model: light, hubUrl: ['wss://a:1', 'wss://b:1', 'wss://c:1'], firstHub: 4 });
    expect(d.hubUrl).toBe('wss://b:1');
    expect(() => new SimDevice({ id: 'y', token: 't', model: light, hubUrl: [] })).toThrow('device y: no hub address');
  });

  it('close 4010 (revoked) ends the device: no reconnect [FP-10.3]', async () => {
    const clock = new ManualClock();
    const hub = await startHub({ now: () => clock.now() });
    const d = device(hub, light, { clock });
    await d.start();
    await eventually(() => d.online, { what: 'online' });
    let waits = 0;
    d.on('waiting', () => waits++);
    hub.kick(d.id, 'HUB_ERR_REVOKED', CLOSE_CODES.REVOKED);
    await eventually(() => d.state === 'revoked', { what: 'revoked' });
    expect(d.lastHubError).toEqual({ type: 'error', code: 'HUB_ERR_REVOKED', message: 'kicked by test' });
    expect(waits).toBe(0);
    expect(clock.pendingDelays()).toEqual([]);
    expect(d.sendNow()).toBe(0);
  });

  it.each([
    ['4009 (replaced)', CLOSE_CODES.REPLACED, 'HUB_ERR_REPLACED'],
    ['1001 (hub going away)', CLOSE_CODES.GOING_AWAY, 'HUB_ERR_SHUTDOWN'],
    ['1011 (internal error)', CLOSE_CODES.INTERNAL_ERROR, 'HUB_ERR_INTERNAL'],
  ])('close %s reconnects with backoff [FP-10.6, FP-11.1]', async (_what, closeCode, code) => {
    const clock = new ManualClock();
    const hub = await startHub({ now: () => clock.now() });
    const d = device(hub, light, { clock });
    await d.start();
    await eventually(() => d.online, { what: 'online' });
    const waiting = d.once('waiting');
    hub.kick(d.id, code, closeCode);
    const w = await waiting;
    expect(w).toEqual({ delayMs: expect.any(Number), attempt: 0, ceilingMs: 1000 });
    expect(clock.pendingDelays()).toEqual([w.delayMs]);
    clock.advanceToNext();
    await eventually(() => d.online, { what: 'back online' });
    expect(d.counters.reconnects).toBe(1);
  });

  it('close 4008 (rate limited) waits at least a second before reconnecting [FP-9.2]', async () => {
    const clock = new ManualClock();
    const hub = await startHub({ now: () => clock.now() });
    const d = device(hub, light, { clock, backoff: { baseMs: 10, capMs: 60_000 } });
    await d.start();
    await eventually(() => d.online, { what: 'online' });
    const waiting = d.once('waiting');
    hub.kick(d.id, 'HUB_ERR_RATE_LIMITED', CLOSE_CODES.RATE_LIMITED);
    expect((await waiting).delayMs).toBeGreaterThanOrEqual(1000);
  });

  it('close 4005 (capability) drops the refused frame, counts it and carries on [FP-7.5]', async () => {
    const hub = await startHub();
    const d = device(hub, light, { backoff: { baseMs: 1, capMs: 10 } });
    await d.start();
    await eventually(() => d.online, { what: 'online' });
    hub.ackMode = 'hold';
    d.sendNow();
    d.sendNow();
    await eventually(() => hub.device(d.id).frames === 2, { what: 'two frames received' });
    hub.kick(d.id, 'HUB_ERR_CAPABILITY', CLOSE_CODES.CAPABILITY_VIOLATION);
    await eventually(() => d.counters.drops === 1, { what: 'the oldest frame dropped' });
    expect(d.record!.dropped).toEqual(new Set([1]));
    hub.resumeAcking();
    await eventually(() => d.online && d.outbox.length === 0, { what: 'the rest delivered' });
    expect(d.outbox.lastAckedSeq).toBe(2);
  });
});
