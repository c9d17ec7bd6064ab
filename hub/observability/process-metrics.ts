import { existsSync, readdirSync } from 'node:fs';
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import type { MetricsRegistry } from './metrics-registry.js';

export interface ProcessMetricsOptions {
  /** Sampling period of the event-loop delay monitor, ms (Node's default is 10). */
  resolutionMs?: number;
  /** Directory whose entries are this process's open descriptors; the family is left out when it is absent. */
  fdDir?: string;
}

/** The event-loop monitor behind nodejs_eventloop_lag_seconds: started with the hub, stopped on shutdown. */
export interface ProcessMetrics {
  /** Starts sampling event-loop delay (idempotent). */
  start(): void;
  /** Stops sampling so no timer outlives the hub (idempotent). */
  stop(): void;
}

const NS_PER_S = 1e9;

/**
 * Registers the usual process_* and nodejs_* families (the names the Prometheus client libraries use, so
 * stock dashboards work). Reading is done at scrape time; only the event-loop monitor needs start()/stop().
 */
export function registerProcessMetrics(registry: MetricsRegistry, opts: ProcessMetricsOptions = {}): ProcessMetrics {
  const resolution = opts.resolutionMs ?? 10;
  const fdDir = opts.fdDir ?? '/proc/self/fd';
  let monitor: IntervalHistogram | undefined;

  registry.collectedCounter('process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.', () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1e6;
  });
  registry.gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', () => process.memoryUsage.rss());
  // timeOrigin is when this process started, ms since the epoch.
  registry.gauge('process_start_time_seconds', 'Start time of the process since unix epoch in seconds.', () => Math.round(performance.timeOrigin) / 1000);
  if (existsSync(fdDir)) {
    // readdir opens the directory itself, which then appears in its own listing.
    registry.gauge('process_open_fds', 'Number of open file descriptors.', () => readdirSync(fdDir).length - 1);
  }
  registry.gauge('nodejs_heap_used_bytes', 'V8 heap in use, in bytes.', () => process.memoryUsage().heapUsed);
  registry.gauge(
    'nodejs_eventloop_lag_seconds',
    'Event loop delay since the previous scrape, in seconds: quantile 0.5, 0.99, and 1 (the maximum).',
    () => {
      if (!monitor) return [];
      const h = monitor;
      // An empty window (no sample since the last scrape) reports 0, not the histogram's initial sentinels.
      // Node records the time between its monitor's ticks, the sampling period included (an idle loop reads
      // ~10 ms): the period is taken off, so the value is the delay beyond it and an idle loop reads ~0.
      const value = (ns: number) => (h.count === 0 ? 0 : Math.max(0, ns / NS_PER_S - resolution / 1000));
      const samples: Array<[Record<string, string>, number]> = [
        [{ quantile: '0.5' }, value(h.percentile(50))],
        [{ quantile: '0.99' }, value(h.percentile(99))],
        [{ quantile: '1' }, value(h.max)],
      ];
      // A window per scrape, as prom-client does: a spike shows in the scrape after it, then ages out. Node's
      // reset() also drops the monitor's baseline, so a stall starting before its next tick (resolutionMs
      // after the scrape) goes unseen: a blind spot of ~10 ms per scrape interval.
      h.reset();
      return samples;
    },
  );

  return {
    start() {
      if (monitor) return;
      monitor = monitorEventLoopDelay({ resolution });
      monitor.enable();
    },
    stop() {
      monitor?.disable();
      monitor = undefined;
    },
  };
}
