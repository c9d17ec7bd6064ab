import { describe, expect, it } from '@jest/globals';
import { ActivityFeed } from './activity-feed.js';

describe('ActivityFeed', () => {
  const names = (id: string) => ({ lamp: 'Desk lamp' })[id];

  it('words bridge events, command results, refusals and log lines, newest first', () => {
    const feed = new ActivityFeed();
    feed.addBridgeEvent({ type: 'device_connected', data: { id: 'lamp' } }, 100, names);
    feed.addBridgeEvent({ type: 'device_updated', data: { id: 'lamp', name: 'Reading lamp', room: 'Study' } }, 200, names);
    feed.addCommandResult('lamp', 'Reading lamp', 'on', { id: 4, status: 'failed', message: 'stuck' }, 300);
    feed.addRefusals({ HUB_ERR_BAD_TOKEN: 2 }, 400);
    feed.addRefusals({ HUB_ERR_BAD_TOKEN: 5, HUB_ERR_RATE_LIMITED: 1 }, 500);
    feed.addLogLines([{ ts: 450, level: 'error', msg: 'commit failed', fields: { deviceId: 'lamp', err: 'disk full' } }]);
    expect(feed.entries().map((e) => [e.ts, e.kind, e.level, e.device, e.text])).toEqual([
      // Of two at the same time, the one added later is newer.
      [500, 'refused', 'warn', null, '1 connection refused with HUB_ERR_RATE_LIMITED'],
      [500, 'refused', 'warn', null, '3 connections refused with HUB_ERR_BAD_TOKEN'],
      [450, 'log', 'error', 'lamp', 'commit failed (deviceId=lamp err=disk full)'],
      [400, 'refused', 'warn', null, '2 connections refused with HUB_ERR_BAD_TOKEN since the hub started'],
      [300, 'command', 'warn', 'lamp', 'Reading lamp: on not done (failed: stuck)'],
      [200, 'device', 'info', 'lamp', 'Reading lamp was changed (room: Study)'],
      [100, 'device', 'info', 'lamp', 'Desk lamp connected'],
    ]);
  });

  it('adds a log line once however often it is polled, and stays bounded', () => {
    const feed = new ActivityFeed(3);
    const line = { ts: 10, level: 'warn' as const, msg: 'slow', fields: {} };
    feed.addLogLines([line]);
    feed.addLogLines([line]);
    expect(feed.entries()).toHaveLength(1);
    for (let i = 0; i < 5; i++) feed.addBridgeEvent({ type: 'device_disconnected', data: { id: `d${i}` } }, 20 + i, () => undefined);
    expect(feed.entries().map((e) => e.text)).toEqual(['d4 disconnected (offline)', 'd3 disconnected (offline)', 'd2 disconnected (offline)']);
  });
});
