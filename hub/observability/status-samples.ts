import type { ApiStatusSample } from '../http/api-types.js';

/** One sample of the hub's own status: what GET /api/hub/samples answers (the contract's ApiStatusSample). */
export type StatusSample = ApiStatusSample;

/** What a sample is read from (the HubStatus of hub/observability/hub-status.ts fits). */
export interface SampleSources {
  online(): number;
  ingest(): { readingsCommitted: number };
  mqtt(): { clients: number } | null;
  storageBytes(): number;
}

/** Every 10 s, an hour's worth: 360 samples. */
export const SAMPLE_EVERY_MS = 10_000;
export const SAMPLES_KEPT = 360;
/** ACK waits kept between samples; beyond, every other one is dropped (the percentile stays close). */
const MAX_ACK_WAITS = 4096;

/**
 * A bounded in-memory ring of the hub's status over the last hour (readings/s, devices online, ACK latency
 * p99, MQTT clients, storage size), sampled every 10 s for the hub page's charts.
 */
export class StatusSamples {
  readonly #src: SampleSources;
  readonly #now: () => number;
  readonly #everyMs: number;
  readonly #max: number;
  readonly #samples: StatusSample[] = [];
  #acks: number[] = [];
  #last: { ts: number; committed: number } | null = null;
  #timer: NodeJS.Timeout | undefined;

  constructor(src: SampleSources, opts: { now?: () => number; everyMs?: number; max?: number } = {}) {
    this.#src = src;
    this.#now = opts.now ?? Date.now;
    this.#everyMs = opts.everyMs ?? SAMPLE_EVERY_MS;
    this.#max = opts.max ?? SAMPLES_KEPT;
  }

  /** Takes a first sample and then one every interval. */
  start(): void {
    if (this.#timer) return;
    this.sample();
    this.#timer = setInterval(() => this.sample(), this.#everyMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Notes the ACK wait of one commit (seconds), for the next sample's p99. */
  observeAck(seconds: number): void {
    if (this.#acks.length >= MAX_ACK_WAITS) this.#acks = this.#acks.filter((_, i) => i % 2 === 0);
    this.#acks.push(seconds * 1000);
  }

  /** Takes one sample now (the timer calls it; tests call it with an injected clock). */
  sample(): StatusSample {
    const ts = this.#now();
    const committed = this.#src.ingest().readingsCommitted;
    const last = this.#last;
    const seconds = last ? (ts - last.ts) / 1000 : 0;
    const sample: StatusSample = {
      ts,
      readingsPerSecond: last && seconds > 0 ? Math.max(0, committed - last.committed) / seconds : 0,
      devicesOnline: this.#src.online(),
      ackP99Ms: percentile(this.#acks, 0.99),
      mqttClients: this.#src.mqtt()?.clients ?? 0,
      storageBytes: this.#src.storageBytes(),
    };
    this.#last = { ts, committed };
    this.#acks = [];
    this.#samples.push(sample);
    if (this.#samples.length > this.#max) this.#samples.splice(0, this.#samples.length - this.#max);
    return sample;
  }

  /** The kept samples, oldest first, optionally only those after `since`. */
  samples(since = -Infinity): StatusSample[] {
    return this.#samples.filter((s) => s.ts > since);
  }

  get intervalMs(): number {
    return this.#everyMs;
  }
}

/** The nearest-rank percentile `q` of `values`, or null when there are none. */
function percentile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}
