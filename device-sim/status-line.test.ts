import { describe, it, expect } from '@jest/globals';
import type { FleetStats } from './fleet.js';
import { formatStatus, formatSummary } from './status-line.js';

const stats: FleetStats = {
  generated: 250_000, frames: 120_000, sent: 121_000, resent: 1000, acked: 119_990, drops: 2, droppedItems: 6, connects: 10_050, reconnects: 50,
  refusals: 3, watchdogTimeouts: 0, commands: 4, devices: 10_000, online: 9_998, everConnected: 10_000, parked: 0, pending: 10, pendingItems: 20,
  ackLatencyMs: { count: 119_990, p50: 3.21, p99: 48.7, max: 812 }, elapsedMs: 60_000,
  cpu: { userMs: 30_000, systemMs: 6_000, percentOfOneCore: 60 }, memory: { rssBytes: 900 * 1048576, heapUsedBytes: 300 * 1048576, externalBytes: 0 },
  timers: 30_000, hubErrors: { '401 HUB_ERR_BAD_TOKEN': 3 },
};

describe('status line', () => {
  it('shows connected/total, readings/s, acked, pending, reconnects, drops, ACK p50/p99 and the simulator cost', () => {
    expect(formatStatus(stats, 10_012.4)).toBe(
      'connected 9998/10000 | 10012 readings/s | acked 120k | pending 10 | reconnects 50 | drops 2 | ACK p50 3.2 ms p99 49 ms | cpu 60% rss 900 MB',
    );
    expect(formatStatus({ ...stats, ackLatencyMs: { count: 0, p50: null, p99: null, max: 0 } }, 0)).toContain('ACK p50 - p99 -');
  });

  it('sums a run up, naming what went wrong', () => {
    const text = formatSummary(stats, { ok: false, neverConnected: Array.from({ length: 12 }, (_, i) => `d${i}`), lostItems: 6 });
    expect(text.split('\n')[0]).toBe('FAILED: 10000/10000 devices connected, 250000 readings generated, 119990 frames acknowledged in 60.0 s');
    expect(text).toContain('hub said: 401 HUB_ERR_BAD_TOKEN x3');
    expect(text).toContain('6 readings were dropped or never acknowledged');
    expect(text).toContain('never connected: d0, d1, d2, d3, d4, d5, d6, d7, d8, d9, and 2 more');
  });
});
