import { afterAll, describe, expect, it } from '@jest/globals';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { eventually } from '../../test/support/eventually.js';
import { MetricsRegistry } from './metrics-registry.js';
import { registerProcessMetrics, type ProcessMetrics } from './process-metrics.js';

const handles: ProcessMetrics[] = [];
const dir = mkdtempSync(join(tmpdir(), 'hearth-procmetrics-'));
afterAll(() => {
  for (const h of handles) h.stop();
  rmSync(dir, { recursive: true, force: true });
});

function setUp(opts: Parameters<typeof registerProcessMetrics>[1] = {}) {
  const registry = new MetricsRegistry();
  const handle = registerProcessMetrics(registry, opts);
  handles.push(handle);
  return { registry, handle };
}

/** name{labels} -> value, and name -> TYPE, from one scrape. */
function scrape(registry: MetricsRegistry): { values: Map<string, number>; types: Map<string, string> } {
  const values = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of registry.render().split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    else if (line && !line.startsWith('#')) {
      const at = line.lastIndexOf(' ');
      values.set(line.slice(0, at), Number(line.slice(at + 1)));
    }
  }
  return { values, types };
}

describe('registerProcessMetrics', () => {
  it('registers the usual process_* and nodejs_* families with plausible values', () => {
    const { registry } = setUp();
    const before = process.cpuUsage();
    const { values, types } = scrape(registry);
    expect(Object.fromEntries(types)).toEqual({
      process_cpu_seconds_total: 'counter',
      process_resident_memory_bytes: 'gauge',
      process_start_time_seconds: 'gauge',
      ...(existsSync('/proc/self/fd') ? { process_open_fds: 'gauge' } : {}),
      nodejs_heap_used_bytes: 'gauge',
      nodejs_eventloop_lag_seconds: 'gauge',
    });
    expect(values.get('process_cpu_seconds_total')).toBeGreaterThanOrEqual((before.user + before.system) / 1e6);
    expect(values.get('process_resident_memory_bytes')).toBeGreaterThan(values.get('nodejs_heap_used_bytes')!);
    expect(values.get('nodejs_heap_used_bytes')).toBeGreaterThan(0);
    const started = values.get('process_start_time_seconds')!;
    // The process started before this test and no earlier than its uptime says.
    expect(started).toBeLessThanOrEqual(Date.now() / 1000);
    expect(started).toBeGreaterThanOrEqual(Date.now() / 1000 - process.uptime() - 1);
    expect(started).toBeCloseTo(performance.timeOrigin / 1000, 2);
  });

  it('process_open_fds follows descriptors opened and closed', () => {
    if (!existsSync('/proc/self/fd')) return void expect(scrape(setUp().registry).types.has('process_open_fds')).toBe(false);
    const { registry } = setUp();
    const count = () => scrape(registry).values.get('process_open_fds')!;
    const before = count();
    const fds = [openSync(join(dir, 'a'), 'w'), openSync(join(dir, 'b'), 'w')];
    const during = count();
    for (const fd of fds) closeSync(fd);
    expect({ before: before > 0, opened: during - before, after: count() - before }).toEqual({ before: true, opened: 2, after: 0 });
  });

  it('leaves process_open_fds out where there is no descriptor directory', () => {
    const { registry } = setUp({ fdDir: join(dir, 'no-such-dir') });
    expect(scrape(registry).types.has('process_open_fds')).toBe(false);
  });

  it('reports event-loop lag p50, p99 and max in seconds once started, and nothing once stopped', async () => {
    const { registry, handle } = setUp({ resolutionMs: 5 });
    expect([...scrape(registry).values.keys()].filter((k) => k.startsWith('nodejs_eventloop_lag'))).toEqual([]);
    handle.start();
    handle.start(); // idempotent: one monitor
    // Block the loop for 60 ms between two turns of the loop (the monitor needs a tick before the block as its
    // baseline, and one after to record it), until a scrape shows it.
    const turn = () => new Promise((resolve) => setTimeout(resolve, 20));
    const values = await eventually(async () => {
      await turn();
      const until = performance.now() + 60;
      while (performance.now() < until);
      await turn();
      const scraped = scrape(registry).values;
      expect(scraped.get('nodejs_eventloop_lag_seconds{quantile="1"}')).toBeGreaterThanOrEqual(0.05);
      return scraped;
    }, 10_000);
    const lag = {
      p50: values.get('nodejs_eventloop_lag_seconds{quantile="0.5"}')!,
      p99: values.get('nodejs_eventloop_lag_seconds{quantile="0.99"}')!,
      max: values.get('nodejs_eventloop_lag_seconds{quantile="1"}')!,
    };
    expect(lag.max).toBeGreaterThanOrEqual(0.05);
    expect(lag.max).toBeLessThan(10); // seconds, not milliseconds or nanoseconds
    // The monitor's sampling period is not delay: most ticks of this loop came on time.
    expect(lag.p50).toBeLessThan(0.01);
    expect(lag.p50).toBeLessThanOrEqual(lag.p99);
    expect(lag.p99).toBeLessThanOrEqual(lag.max);
    handle.stop();
    handle.stop();
    expect([...scrape(registry).values.keys()].filter((k) => k.startsWith('nodejs_eventloop_lag'))).toEqual([]);
  });
});
