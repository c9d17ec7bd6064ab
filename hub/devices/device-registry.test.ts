import { afterEach, describe, expect, it } from '@jest/globals';
import type { Frame, HelloFrame } from '../../protocol/types.js';
import { tmpdir } from 'node:os';
import { pino } from 'pino';
import { UPGRADE_STATUSES } from '../../protocol/error-codes.js';
import { Authorizer } from '../auth/authorizer.js';
import { hashToken } from '../auth/device-tokens.js';
import { hello, THERMO_CAPS } from '../../test/support/fixtures.js';
import { EventBus, type HubEvents } from '../events.js';
import type { HubStore } from '../storage/hub-store.js';
import { TempStore } from '../testing/temp-store.js';
import { DeviceRegistry, type SessionHandle } from './device-registry.js';
import { sqliteNow } from '../testing/sqlite-now.js';

const T0 = Date.UTC(2025, 0, 1);
const temp = new TempStore();
afterEach(() => temp.cleanup());

/** A live session as the registry sees it: what it was sent and how it was failed. */
class SessionSpy implements SessionHandle {
  readonly sent: Frame[] = [];
  readonly failed: { code: string; message: string }[] = [];
  send(frame: Frame): void {
    this.sent.push(frame);
  }
  fail(code: 'HUB_ERR_REPLACED' | 'HUB_ERR_REVOKED', message: string): void {
    this.failed.push({ code, message });
  }
}

/** Records every bus event, in order, as [event, payload]. */
function recordBus(bus: EventBus): [keyof HubEvents, unknown][] {
  const seen: [keyof HubEvents, unknown][] = [];
  for (const event of ['readings', 'event', 'availability', 'device.updated', 'device.removed', 'command.result'] as const) {
    bus.on(event, (payload) => seen.push([event, payload]));
  }
  return seen;
}

/** The hub's device-token check over this registry's stored hashes. */
function authorizer(registry: DeviceRegistry): Authorizer {
  return new Authorizer({ dataDir: tmpdir(), devices: registry, log: pino({ level: 'silent' }) });
}

function setUp(): { store: HubStore; bus: EventBus; registry: DeviceRegistry; events: [keyof HubEvents, unknown][] } {
  const store = temp.open(() => T0);
  const bus = new EventBus();
  const events = recordBus(bus);
  const registry = new DeviceRegistry(store, bus);
  registry.load();
  return { store, bus, registry, events };
}

const HELLO: HelloFrame = { type: 'hello', ...hello() };

describe('DeviceRegistry', () => {
  it('rename() stores name and room, announces device.updated once per real change; a reload and a CLI reconcile see them', () => {
    const { store, bus, registry, events } = setUp();
    registry.provision('lamp', 'Porch', 'light', T0);
    events.length = 0;
    expect(registry.rename('lamp', { name: 'Porch light', room: 'Outside' })).toMatchObject({ name: 'Porch light', room: 'Outside' });
    expect(registry.rename('lamp', { room: 'Outside' })).toMatchObject({ room: 'Outside' });
    expect(events).toEqual([['device.updated', { device: expect.objectContaining({ id: 'lamp', name: 'Porch light', room: 'Outside' }) }]]);
    expect(registry.rename('nope', { name: 'x' })).toBeUndefined();
    const again = new DeviceRegistry(store, bus);
    again.load();
    expect(again.info('lamp')).toMatchObject({ name: 'Porch light', room: 'Outside' });
    store.setDeviceRoom('lamp', null); // as the CLI would, on its own connection
    events.length = 0;
    again.reconcile(T0);
    expect(events).toEqual([['device.updated', { device: expect.objectContaining({ id: 'lamp', room: null }) }]]);
  });

  it('remove() deletes the device and what it stored, closes its session with 4010 and announces device.removed', () => {
    const { store, registry, events } = setUp();
    registry.provision('lamp', 'Porch', 'light', T0);
    const failed: string[] = [];
    registry.attach('lamp', { send: () => {}, fail: (code) => failed.push(code) });
    events.length = 0;
    expect(registry.remove('lamp')).toBe(true);
    expect(failed).toEqual(['HUB_ERR_REVOKED']);
    expect(store.getDevice('lamp')).toBeUndefined();
    expect(registry.has('lamp')).toBe(false);
    expect(events).toEqual([['device.removed', { deviceId: 'lamp', device: expect.objectContaining({ id: 'lamp', name: 'Porch', online: false }) }]]);
    expect(registry.remove('lamp')).toBe(false);
  });

  it('load() takes every non-revoked device with its capabilities and latest stored values (enums by option name)', () => {
    const store = temp.open(() => T0);
    store.addDevice({ id: 'th1', name: 'Hall', type: 'thermostat', ...saltHash('t1'), createdAt: T0 });
    store.addDevice({ id: 'gone', name: 'Gone', type: 'plug', ...saltHash('t2'), createdAt: T0 });
    store.updateDeviceHello('th1', { model: 'test-thermo', firmware: '1.0.0', capabilities: THERMO_CAPS });
    store.revokeDevice('gone', T0);
    const temperature = store.seriesId('th1', 'temperature', 'float');
    const mode = store.seriesId('th1', 'mode', 'enum');
    store.commit({
      readings: [
        { series: temperature, ts: T0 + 1, value: { type: 'float', value: 20 } },
        { series: temperature, ts: T0 + 2, value: { type: 'float', value: 21.5 } },
        { series: mode, ts: T0 + 1, value: { type: 'enum', value: 2 } },
      ],
      events: [],
      seqs: new Map([['th1', 3]]),
      lastSeen: new Map([['th1', T0 + 2]]),
    });
    const registry = new DeviceRegistry(store, new EventBus());
    registry.load();
    expect(registry.list().map((d) => d.id)).toEqual(['th1']);
    expect(registry.has('gone')).toBe(false);
    expect(registry.info('th1')).toMatchObject({ name: 'Hall', type: 'thermostat', model: 'test-thermo', capabilities: THERMO_CAPS, online: false });
    expect(registry.capability('th1', 3)?.name).toBe('setpoint');
    expect(registry.capabilityByName('th1', 'mode')?.id).toBe(5);
    expect(registry.currentState('th1')).toEqual({ temperature: { value: 21.5, ts: T0 + 2 }, mode: { value: 'eco', ts: T0 + 1 } });
  });

  it('provision() stores a device with a token shown once (only its hash is kept) and announces it', () => {
    const { store, registry, events } = setUp();
    const { device, token } = sqliteNow(registry.provision('lamp', 'Porch', 'light', T0));
    expect(device).toEqual({ id: 'lamp', name: 'Porch', type: 'light', model: '', firmware: '', capabilities: [], online: false, lastSeen: null, createdAt: T0, room: null });
    expect(token).toMatch(/^hd1_/);
    expect(JSON.stringify(store.getDevice('lamp'))).not.toContain(token);
    expect(events).toEqual([['device.updated', { device }]]);
    expect(() => registry.provision('lamp', 'Again', 'light', T0)).toThrow(expect.objectContaining({ code: 'HUB_ERR_DEVICE_EXISTS' }));
  });

  it('its stored token hashes let hub/auth accept the right token only, and name an unknown device [FP-2.3]', () => {
    const { registry } = setUp();
    const auth = authorizer(registry);
    const { token } = sqliteNow(registry.provision('lamp', 'Porch', 'light', T0));
    expect(auth.authenticateDevice('lamp', token)).toEqual({ ok: true });
    expect(auth.authenticateDevice('lamp', `${token}x`)).toMatchObject({ ok: false, code: 'HUB_ERR_BAD_TOKEN' });
    expect(auth.authenticateDevice('lamp', undefined)).toMatchObject({ ok: false, code: 'HUB_ERR_BAD_TOKEN' });
    expect(auth.authenticateDevice('ghost', token)).toEqual({ ok: false, code: 'HUB_ERR_UNKNOWN_DEVICE', message: 'no device "ghost" is provisioned' });
    expect([UPGRADE_STATUSES.HUB_ERR_BAD_TOKEN, UPGRADE_STATUSES.HUB_ERR_UNKNOWN_DEVICE]).toEqual([401, 401]);
  });

  it('attach() replaces the live session: the old one is failed with HUB_ERR_REPLACED (4009) [FP-10.3]', () => {
    const { registry } = setUp();
    registry.provision('lamp', 'Porch', 'light', T0);
    const first = new SessionSpy();
    const second = new SessionSpy();
    registry.attach('lamp', first);
    expect(first.failed).toEqual([]);
    registry.attach('lamp', second);
    expect(first.failed).toEqual([{ code: 'HUB_ERR_REPLACED', message: 'another connection of this device took over' }]);
    expect(second.failed).toEqual([]);
    expect(registry.session('lamp')).toBe(second);
    expect(registry.detach('lamp', first)).toBe(false); // the replaced session's close changes nothing
    expect(registry.session('lamp')).toBe(second);
    expect(registry.detach('lamp', second)).toBe(true);
    expect(registry.session('lamp')).toBeUndefined();
  });

  it('greet() records model, firmware and capabilities, marks the device online, and announces a change only once', () => {
    const { store, registry, events } = setUp();
    registry.provision('th1', 'Hall', 'thermostat', T0);
    events.length = 0;
    registry.attach('th1', new SessionSpy());
    registry.greet('th1', HELLO, T0 + 5);
    const info = registry.info('th1')!;
    expect(info).toMatchObject({ model: 'test-thermo', firmware: '1.0.0', capabilities: THERMO_CAPS, online: true, lastSeen: T0 + 5 });
    expect(store.getDevice('th1')).toMatchObject({ model: 'test-thermo', firmware: '1.0.0', capabilities: THERMO_CAPS });
    expect(events).toEqual([
      ['device.updated', { device: { ...info, online: false } }],
      ['availability', { device: info, online: true }],
    ]);
    expect(registry.onlineCount).toBe(1);
    events.length = 0;
    registry.greet('th1', HELLO, T0 + 6); // the same HELLO again: online, nothing changed
    expect(events.map(([e]) => e)).toEqual(['availability']);
    registry.greet('th1', { ...HELLO, firmware: '1.1.0', capabilities: THERMO_CAPS.slice(0, 2) }, T0 + 7); // [FP-7.4]
    expect(events.map(([e]) => e)).toEqual(['availability', 'device.updated', 'availability']);
    expect(registry.capability('th1', 3)).toBeUndefined();
    expect(registry.capabilityByName('th1', 'humidity')?.id).toBe(2);
  });

  it('detach() of the live session takes a greeted device offline', () => {
    const { registry, events } = setUp();
    registry.provision('th1', 'Hall', 'thermostat', T0);
    const session = new SessionSpy();
    registry.attach('th1', session);
    registry.greet('th1', HELLO, T0);
    events.length = 0;
    expect(registry.detach('th1', session)).toBe(true);
    expect(events).toEqual([['availability', { device: expect.objectContaining({ id: 'th1', online: false }), online: false }]]);
    expect(registry.onlineCount).toBe(0);
  });

  it('revoke() fails the live session with HUB_ERR_REVOKED (4010) at once, removes the device and refuses it afterwards [FP-10.3]', () => {
    const { store, registry, events } = setUp();
    const { token } = sqliteNow(registry.provision('th1', 'Hall', 'thermostat', T0));
    const session = new SessionSpy();
    registry.attach('th1', session);
    registry.greet('th1', HELLO, T0);
    events.length = 0;
    expect(registry.revoke('th1', T0 + 10)).toBe(true);
    expect(session.failed).toEqual([{ code: 'HUB_ERR_REVOKED', message: 'device "th1" was revoked' }]);
    expect(events.map(([e]) => e)).toEqual(['availability', 'device.removed']);
    expect(events[1]).toEqual(['device.removed', { deviceId: 'th1', device: expect.objectContaining({ id: 'th1', capabilities: HELLO.capabilities, online: false }) }]);
    expect(registry.has('th1')).toBe(false);
    expect(authorizer(registry).authenticateDevice('th1', token)).toMatchObject({ ok: false, code: 'HUB_ERR_UNKNOWN_DEVICE' });
    expect(store.getDevice('th1')?.revokedAt).toBe(T0 + 10);
    expect(registry.revoke('th1', T0 + 11)).toBe(false);
    expect(registry.revoke('ghost', T0)).toBe(false);
  });

  it('applyCommitted() keeps the newest value of each metric and the latest time the device was heard from', () => {
    const { registry } = setUp();
    registry.provision('th1', 'Hall', 'thermostat', T0);
    registry.greet('th1', HELLO, T0);
    registry.applyCommitted('th1', [{ metric: 'temperature', ts: T0 + 20, value: { type: 'float', value: 22 } }], T0 + 30);
    registry.applyCommitted('th1', [
      { metric: 'temperature', ts: T0 + 10, value: { type: 'float', value: 19 } }, // older: a replayed sample
      { metric: 'mode', ts: T0 + 10, value: { type: 'enum', value: 1 } },
    ], T0 + 25);
    expect(registry.currentState('th1')).toEqual({ temperature: { value: 22, ts: T0 + 20 }, mode: { value: 'heat', ts: T0 + 10 } });
    expect(registry.info('th1')?.lastSeen).toBe(T0 + 30);
    expect(registry.currentState('ghost')).toEqual({});
  });

  it('reconcile() follows changes another connection (the CLI) made: new, renamed, revoked and removed devices', () => {
    const { store, registry, events } = setUp();
    registry.provision('keep', 'Keep', 'plug', T0);
    registry.provision('cut', 'Cut', 'plug', T0);
    registry.provision('drop', 'Drop', 'plug', T0);
    const cutSession = new SessionSpy();
    registry.attach('cut', cutSession);
    events.length = 0;
    const cli = temp.reopen(store.settings.path, () => T0);
    cli.addDevice({ id: 'fresh', name: 'Fresh', type: 'light', ...saltHash('t'), createdAt: T0 });
    cli.renameDevice('keep', 'Kept');
    cli.revokeDevice('cut', T0 + 1);
    cli.removeDevice('drop');
    registry.reconcile(T0 + 2);
    expect(registry.list().map((d) => [d.id, d.name])).toEqual([['fresh', 'Fresh'], ['keep', 'Kept']]);
    expect(cutSession.failed).toEqual([{ code: 'HUB_ERR_REVOKED', message: 'device "cut" was revoked' }]);
    expect(events).toEqual(expect.arrayContaining([
      ['device.updated', { device: expect.objectContaining({ id: 'fresh' }) }],
      ['device.updated', { device: expect.objectContaining({ id: 'keep', name: 'Kept' }) }],
      ['device.removed', { deviceId: 'cut', device: expect.objectContaining({ id: 'cut' }) }],
      ['device.removed', { deviceId: 'drop', device: expect.objectContaining({ id: 'drop' }) }],
    ]));
    expect(events).toHaveLength(4);
    events.length = 0;
    registry.reconcile(T0 + 3); // nothing changed since
    expect(events).toEqual([]);
  });
});

function saltHash(token: string): { tokenSalt: string; tokenHash: string } {
  const { salt, hash } = hashToken(token);
  return { tokenSalt: salt, tokenHash: hash };
}
