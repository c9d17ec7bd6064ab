import { afterEach, describe, expect, it } from '@jest/globals';
import { Topics } from '../../hub/mqtt/topics.js';
import type { ApiClient } from './api-client.js';
import { CommandSender } from './command-sender.js';
import { DeviceStore } from './device-store.js';

const light = {
  id: 'lamp', name: 'Lamp', type: 'light', model: 'L', firmware: '1', online: true, lastSeen: null,
  capabilities: [{ name: 'on', valueType: 'bool' as const, unit: '', deviceClass: '', writable: true, event: false }],
};

describe('CommandSender', () => {
  let sender: CommandSender | null = null;
  afterEach(() => sender?.stop());

  function setup(connected: boolean, answer: Promise<{ status: string; message: string }> = Promise.resolve({ status: 'ok', message: '' })) {
    const store = new DeviceStore();
    store.setDevices([light], true);
    const published: [string, string][] = [];
    const posted: unknown[][] = [];
    const api = { sendCommand: (...args: unknown[]) => (posted.push(args), answer) } as unknown as ApiClient;
    const live = { publish: (topic: string, payload: string) => (connected ? (published.push([topic, payload]), true) : false) };
    sender = new CommandSender({ store, api, live, topics: new Topics('hearth'), now: () => 1000 });
    return { store, published, posted };
  }

  it('publishes {"value": ...} on the set topic and shows the command pending', () => {
    const { store, published, posted } = setup(true);
    sender!.send('lamp', 'on', true);
    expect(published).toEqual([['hearth/lamp/set/on', '{"value":true}']]);
    expect(posted).toEqual([]);
    expect(store.get('lamp')?.commands.on).toEqual({ status: 'pending', value: true, deadline: 16_000 });
  });

  it('falls back to the HTTP API while MQTT is down and shows its outcome', async () => {
    const { store, published, posted } = setup(false, Promise.resolve({ status: 'offline', message: 'device "lamp" is offline' }));
    sender!.send('lamp', 'on', false);
    expect(published).toEqual([]);
    expect(posted).toEqual([['lamp', 'on', false]]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(store.get('lamp')?.commands.on).toEqual({ status: 'failed', value: false, reason: 'offline: device "lamp" is offline', at: 1000 });
  });

  it('shows the error when the HTTP API cannot be reached', async () => {
    const { store } = setup(false, Promise.reject(new Error('the hub did not answer')));
    sender!.send('lamp', 'on', true);
    await new Promise((resolve) => setImmediate(resolve));
    expect(store.get('lamp')?.commands.on).toMatchObject({ status: 'failed', reason: 'the hub did not answer' });
  });
});
