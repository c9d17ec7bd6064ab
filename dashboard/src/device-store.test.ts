import { describe, expect, it } from '@jest/globals';
import type { BridgeDevice } from '../../hub/mqtt/topics.js';
import { DeviceStore, type DeviceStoreEvents } from './device-store.js';

const light = (over: Partial<BridgeDevice> = {}): BridgeDevice => ({
  id: 'lamp',
  name: 'Kitchen / Lamp',
  type: 'light',
  model: 'L2',
  firmware: '2.0',
  online: true,
  lastSeen: 1000,
  capabilities: [{ name: 'on', valueType: 'bool', unit: '', deviceClass: '', writable: true, event: false }],
  ...over,
});

function storeWithCounter() {
  let changes = 0;
  const store = new DeviceStore(() => changes++);
  return { store, changes: () => changes };
}

describe('DeviceStore', () => {
  it('lists devices only once a devices list names them, keeping state that came first', () => {
    const { store } = storeWithCounter();
    store.applyState('lamp', { on: { value: true, ts: 10 } });
    expect(store.list()).toEqual([]);
    expect(store.get('lamp')).toBeUndefined();
    store.setDevices([light()], true);
    expect(store.get('lamp')?.state).toEqual({ on: { value: true, ts: 10 } });
    expect(store.takeDirty()).toEqual({ list: true, devices: new Set(['lamp']) });
    expect(store.takeDirty()).toEqual({ list: false, devices: new Set() });
  });

  it('keeps the newer value of each metric and reports a point only for newer ones', () => {
    const { store } = storeWithCounter();
    const points: DeviceStoreEvents['point'][] = [];
    store.events.on('point', (p) => points.push(p));
    store.setDevices([light()], true);
    store.applyState('lamp', { on: { value: true, ts: 20 } });
    store.applyState('lamp', { on: { value: false, ts: 10 } });
    store.applyState('lamp', { on: { value: true, ts: 20 } });
    expect(store.get('lamp')?.state.on).toEqual({ value: true, ts: 20 });
    expect(points).toEqual([{ device: 'lamp', metric: 'on', ts: 20, value: true }]);
  });

  it('marks only changed devices dirty and asks for a render on every change', () => {
    const { store, changes } = storeWithCounter();
    store.setDevices([light(), light({ id: 'other', name: 'Other' })], true);
    store.takeDirty();
    const before = changes();
    store.applyState('other', { on: { value: true, ts: 5 } });
    store.applyState('other', { on: { value: true, ts: 5 } });
    expect(store.takeDirty()).toEqual({ list: false, devices: new Set(['other']) });
    expect(changes()).toBe(before + 1);
  });

  it('lets an authoritative list remove devices, while an API snapshot never overrides it', () => {
    const { store } = storeWithCounter();
    store.setDevices([{ ...light(), state: { on: { value: false, ts: 1 } } }], false);
    expect(store.get('lamp')?.state.on?.value).toBe(false);
    store.setDevices([light({ id: 'plug', name: 'Plug' })], true);
    expect(store.list().map((d) => d.id)).toEqual(['plug']);
    store.setDevices([{ ...light(), state: {} }, { ...light({ id: 'plug', name: 'Renamed' }), state: { on: { value: true, ts: 9 } } }], false);
    expect(store.list().map((d) => [d.id, d.meta?.name])).toEqual([['plug', 'Plug']]);
    expect(store.get('plug')?.state.on).toEqual({ value: true, ts: 9 });
  });

  it('flags a list change when a name or type changes, not for a value-only change', () => {
    const { store } = storeWithCounter();
    store.setDevices([light()], true);
    store.takeDirty();
    store.setDevices([light({ online: false, lastSeen: 2000 })], true);
    expect(store.takeDirty()).toEqual({ list: false, devices: new Set(['lamp']) });
    store.setDevices([light({ name: 'Hall / Lamp' })], true);
    expect(store.takeDirty().list).toBe(true);
  });

  it('tracks availability and when an online device was last seen', () => {
    const { store } = storeWithCounter();
    store.setDevices([light({ lastSeen: 1000 })], true);
    store.applyAvailability('lamp', 'offline', 5000);
    expect([store.get('lamp')?.online, store.get('lamp')?.lastSeen]).toEqual([false, 5000]);
    store.applyAvailability('lamp', 'online', 6000);
    expect(store.get('lamp')?.online).toBe(true);
  });

  it('shows a command pending until its result, then done or failed with the reason', () => {
    const { store } = storeWithCounter();
    const results: string[] = [];
    store.events.on('commandResult', (r) => results.push(`${r.device}/${r.command}:${r.result.status}`));
    store.setDevices([light()], true);
    store.startCommand('lamp', 'on', true, 100);
    expect(store.get('lamp')?.commands.on).toMatchObject({ status: 'pending', value: true });
    store.applyCommandResult('lamp', 'on', { id: 7, status: 'ok', message: '' }, 200);
    expect(store.get('lamp')?.commands.on).toEqual({ status: 'done', value: true, at: 200 });
    store.startCommand('lamp', 'on', false, 300);
    store.applyCommandResult('lamp', 'on', { id: 8, status: 'failed', message: 'relay stuck' }, 400);
    expect(store.get('lamp')?.commands.on).toEqual({ status: 'failed', value: false, reason: 'failed: relay stuck', at: 400 });
    expect(results).toEqual(['lamp/on:ok', 'lamp/on:failed']);
  });

  it('ignores results of commands it did not send, but passes them on', () => {
    const { store } = storeWithCounter();
    let seen = 0;
    store.events.on('commandResult', () => seen++);
    store.setDevices([light()], true);
    store.applyCommandResult('lamp', 'on', { id: 1, status: 'ok', message: '' }, 10);
    expect(store.get('lamp')?.commands).toEqual({});
    expect(seen).toBe(1);
  });

  it('fails commands whose wait is over and reports the next deadline', () => {
    const { store } = storeWithCounter();
    store.setDevices([light(), light({ id: 'b', name: 'B' })], true);
    store.startCommand('lamp', 'on', true, 0, 1000);
    store.startCommand('b', 'on', true, 0, 3000);
    expect(store.expireCommands(999)).toBe(1000);
    expect(store.expireCommands(1000)).toBe(3000);
    expect(store.get('lamp')?.commands.on).toMatchObject({ status: 'failed', reason: 'no answer from the hub' });
    expect(store.get('b')?.commands.on?.status).toBe('pending');
    expect(store.expireCommands(5000)).toBeNull();
  });

  it('keeps the latest event of each name and passes every event on', () => {
    const { store } = storeWithCounter();
    const seen: number[] = [];
    store.events.on('event', (e) => seen.push(e.event.ts));
    store.setDevices([light()], true);
    store.applyEvent('lamp', 'motion', { value: true, ts: 20 });
    store.applyEvent('lamp', 'motion', { value: false, ts: 10 });
    expect(store.get('lamp')?.events.motion).toEqual({ value: true, ts: 20 });
    expect(seen).toEqual([20, 10]);
  });

  it('seeds the latest stored event of each name without announcing it', () => {
    const { store } = storeWithCounter();
    let announced = 0;
    store.events.on('event', () => announced++);
    store.setDevices([light()], true);
    store.applyEvent('lamp', 'contact', { value: 'open', ts: 50 });
    store.seedEvents('lamp', [
      { name: 'contact', ts: 40, value: 'closed' },
      { name: 'motion', ts: 30, value: true },
      { name: 'motion', ts: 10, value: false },
    ]);
    expect(store.get('lamp')?.events).toEqual({ contact: { value: 'open', ts: 50 }, motion: { value: true, ts: 30 } });
    expect(announced).toBe(1);
  });

  it('absorbs 20,000 state messages into one dirty set', () => {
    const { store } = storeWithCounter();
    const devices = Array.from({ length: 100 }, (_, i) => light({ id: `d${i}`, name: `D${i}` }));
    store.setDevices(devices, true);
    store.takeDirty();
    for (let i = 0; i < 20_000; i++) store.applyState(`d${i % 100}`, { on: { value: i % 2 === 0, ts: i } });
    const dirty = store.takeDirty();
    expect(dirty.devices.size).toBe(100);
    expect(store.get('d99')?.state.on).toEqual({ value: false, ts: 19_999 });
  });
});
