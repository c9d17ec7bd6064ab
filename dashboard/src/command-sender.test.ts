import { afterEach, describe, expect, it } from '@jest/globals';
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

  function setup(answer: Promise<{ commandId: number; status: string; message: string }>) {
    const store = new DeviceStore();
    store.setDevices([light], true);
    const posted: unknown[][] = [];
    const api = { sendCommand: (...args: unknown[]) => (posted.push(args), answer) } as unknown as Pick<ApiClient, 'sendCommand'>;
    sender = new CommandSender({ store, api, now: () => 1000 });
    return { store, posted };
  }

  it('posts the command over HTTP (recorded under the signed-in user) and shows it pending, then done', async () => {
    const { store, posted } = setup(Promise.resolve({ commandId: 7, status: 'ok', message: '' }));
    sender!.send('lamp', 'on', true);
    expect(posted).toEqual([['lamp', 'on', true]]);
    expect(store.get('lamp')?.commands.on).toEqual({ status: 'pending', value: true, deadline: 16_000 });
    await new Promise((resolve) => setImmediate(resolve));
    expect(store.get('lamp')?.commands.on).toEqual({ status: 'done', value: true, at: 1000 });
  });

  it('shows the hub\'s refusal with its reason', async () => {
    const { store } = setup(Promise.resolve({ commandId: 0, status: 'offline', message: 'device "lamp" is offline' }));
    sender!.send('lamp', 'on', false);
    await new Promise((resolve) => setImmediate(resolve));
    expect(store.get('lamp')?.commands.on).toEqual({ status: 'failed', value: false, reason: 'offline: device "lamp" is offline', at: 1000 });
  });

  it('shows the error when the HTTP API cannot be reached', async () => {
    const { store } = setup(Promise.reject(new Error('the hub did not answer')));
    sender!.send('lamp', 'on', true);
    await new Promise((resolve) => setImmediate(resolve));
    expect(store.get('lamp')?.commands.on).toMatchObject({ status: 'failed', reason: 'the hub did not answer' });
  });
});
