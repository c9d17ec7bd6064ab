import { afterEach, describe, expect, it } from '@jest/globals';
import { EventBus, type CommandOutcome, type CommandOutcomeStatus } from '../events.js';
import { createLogger } from '../logger.js';
import { HubMetrics, type MetricSources } from './hub-metrics.js';

const sources: MetricSources = {
  connections: () => 0,
  online: () => 0,
  ingest: () => ({ framesAccepted: 0, readingsAccepted: 0, readingsCommitted: 0, duplicates: 0, clockSkewed: 0, pendingReadings: 0 }),
  refused: () => new Map(),
  mqtt: () => null,
  storageBytes: () => 0,
  retentionDeleted: () => 0,
  commitFailures: () => new Map(),
  storageFault: () => undefined,
};

const outcome = (status: CommandOutcomeStatus): CommandOutcome => ({ commandId: 1, deviceId: 'd1', command: 'on', status, message: '' });
const commandLines = (metrics: HubMetrics) => metrics.registry.render().split('\n').filter((l) => l.startsWith('hearth_commands_total'));

let metrics: HubMetrics | undefined;
afterEach(() => metrics?.stop());

describe('HubMetrics', () => {
  it('counts command outcomes from the bus by status (hearth_commands_total), only while started', () => {
    const bus = new EventBus();
    metrics = new HubMetrics(sources, createLogger('silent'), bus);
    bus.emit('command.result', outcome('ok'));
    expect(commandLines(metrics)).toEqual([]);
    metrics.start();
    metrics.start(); // idempotent: one subscription
    bus.emit('command.result', outcome('ok'));
    bus.emit('command.result', outcome('ok'));
    bus.emit('command.result', outcome('timeout'));
    bus.emit('command.result', outcome('offline'));
    expect(commandLines(metrics)).toEqual([
      'hearth_commands_total{status="ok"} 2',
      'hearth_commands_total{status="timeout"} 1',
      'hearth_commands_total{status="offline"} 1',
    ]);
    metrics.stop();
    bus.emit('command.result', outcome('ok'));
    expect(commandLines(metrics)[0]).toBe('hearth_commands_total{status="ok"} 2');
    expect(bus.has('command.result')).toBe(false);
  });

  it('counts commit failures by cause and shows the current fault on its cause label', () => {
    const failures = new Map([['busy', 3], ['full', 1]]);
    let fault: string | undefined = 'full';
    metrics = new HubMetrics({ ...sources, commitFailures: () => failures, storageFault: () => fault }, createLogger('silent'), new EventBus());
    const lines = (prefix: string) => metrics!.registry.render().split('\n').filter((l) => l.startsWith(prefix));
    expect(lines('hearth_commit_failures_total')).toEqual(['hearth_commit_failures_total{cause="busy"} 3', 'hearth_commit_failures_total{cause="full"} 1']);
    expect(lines('hearth_storage_fault{cause="full"}')).toEqual(['hearth_storage_fault{cause="full"} 1']);
    expect(lines('hearth_storage_fault').filter((l) => l.endsWith(' 1'))).toHaveLength(1);
    fault = undefined;
    expect(lines('hearth_storage_fault').filter((l) => l.endsWith(' 1'))).toEqual([]);
  });
});
