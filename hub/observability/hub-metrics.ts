import type { IncomingMessage, ServerResponse } from 'node:http';
import { MetricsRegistry, type HistogramSnapshot } from './metrics-registry.js';
import { registerProcessMetrics } from './process-metrics.js';
import { FAULT_CAUSES } from '../storage/fault-cause.js';
import type { EventBus } from '../events.js';
import { sendJson } from '../http/respond.js';
import type { Logger } from '../logger.js';

/** What the hub's metrics read at scrape time. */
export interface MetricSources {
  connections: () => number;
  online: () => number;
  ingest: () => { framesAccepted: number; readingsAccepted: number; readingsCommitted: number; duplicates: number; clockSkewed: number; pendingReadings: number };
  refused: () => ReadonlyMap<string, number>;
  mqtt: () => { clients: number; messages: number; streamDropped: number } | null;
  /** The embedded broker's refusals by reason (connects, packets, subscriptions). */
  mqttRefused?: () => ReadonlyMap<string, number>;
  storageBytes: () => number;
  retentionDeleted: () => number;
  /** Failed commits since start, by cause. */
  commitFailures: () => ReadonlyMap<string, number>;
  /** The cause of the storage fault in progress, undefined while commits succeed. */
  storageFault: () => string | undefined;
  /** hearth_hub_info's labels; without it (tests) the family is not registered. */
  identity?: () => { hubId: string; version: string };
  /** Descriptors open and the ceiling the HTTPS port guards; null where unknown (no /proc). */
  openFiles?: () => { open: number; ceiling: number } | null;
}


/**
 * The hub's Prometheus metrics: gauges and counters read at scrape time, histograms fed by ingest, and the
 * command outcomes counted from the bus's 'command.result' while started.
 */
export class HubMetrics {
  readonly registry: MetricsRegistry;
  readonly #process: { start(): void; stop(): void };
  readonly #bus: EventBus;
  readonly #batch;
  readonly #commit;
  readonly #ack;
  readonly #commands;
  readonly #connectionsRefused;
  readonly #upgradesRefused;
  readonly #unauthorized;
  #unsubscribe: (() => void) | undefined;

  constructor(sources: MetricSources, log: Logger, bus: EventBus) {
    this.#bus = bus;
    const m = new MetricsRegistry({ onCollectError: (metric, err) => log.warn({ metric, err: String(err) }, 'metric collect failed') });
    this.registry = m;
    this.#process = registerProcessMetrics(m);
    const identity = sources.identity;
    if (identity) m.gauge('hearth_hub_info', 'Always 1; its labels name this hub (hub.id) and its version.', () => [[{ hub_id: identity().hubId, version: identity().version }, 1]]);
    m.gauge('hearth_devices_connected', 'Device WebSocket connections open.', sources.connections);
    m.gauge('hearth_devices_online', 'Devices connected and greeted.', sources.online);
    m.collectedCounter('hearth_frames_received_total', 'Data frames accepted (duplicates excluded).', () => sources.ingest().framesAccepted);
    m.collectedCounter('hearth_frames_duplicate_total', 'Data frames acknowledged as duplicates of stored ones.', () => sources.ingest().duplicates);
    m.collectedCounter('hearth_readings_received_total', 'Readings accepted from devices.', () => sources.ingest().readingsAccepted);
    m.collectedCounter('hearth_readings_committed_total', 'Readings durably committed.', () => sources.ingest().readingsCommitted);
    m.collectedCounter('hearth_clock_skew_total', 'Readings whose device timestamp was replaced by hub time.', () => sources.ingest().clockSkewed);
    m.gauge('hearth_readings_pending', 'Readings received and not yet committed.', () => sources.ingest().pendingReadings);
    m.collectedCounter('hearth_frames_refused_total', 'Frames and sessions refused, by error code.', () =>
      [...sources.refused()].map(([code, n]) => [{ code }, n] as [Record<string, string>, number]),
    );
    m.gauge('hearth_mqtt_clients', 'MQTT clients connected to the embedded broker.', () => sources.mqtt()?.clients ?? 0);
    m.collectedCounter('hearth_mqtt_messages_total', 'Messages routed by the embedded broker.', () => sources.mqtt()?.messages ?? 0);
    m.collectedCounter('hearth_mqtt_stream_dropped_total', 'Readings dropped from <base>/<device>/readings for a consumer too far behind.', () => sources.mqtt()?.streamDropped ?? 0);
    m.collectedCounter('hearth_mqtt_refused_total', 'Connections, packets and subscriptions the embedded broker refused, by reason.', () =>
      [...(sources.mqttRefused?.() ?? [])].map(([reason, n]) => [{ reason }, n] as [Record<string, string>, number]),
    );
    m.collectedCounter('hearth_commit_failures_total', `Failed group commits (and reconnects), by cause: ${FAULT_CAUSES.join(', ')}.`, () =>
      [...sources.commitFailures()].map(([cause, n]) => [{ cause }, n] as [Record<string, string>, number]),
    );
    m.gauge('hearth_storage_fault', 'The storage fault in progress: 1 on its cause label, 0 on the others.', () => {
      const now = sources.storageFault();
      return FAULT_CAUSES.map((cause) => [{ cause }, cause === now ? 1 : 0] as [Record<string, string>, number]);
    });
    m.gauge('hearth_open_files', 'File descriptors the hub process holds open (sockets, database, logs).', () => sources.openFiles?.()?.open ?? []);
    m.gauge('hearth_open_files_limit', 'Descriptor ceiling: the soft RLIMIT_NOFILE, or http.maxOpenFiles when lower.', () => sources.openFiles?.()?.ceiling ?? []);
    m.gauge('hearth_storage_bytes', 'Database file plus WAL, bytes.', sources.storageBytes);
    m.collectedCounter('hearth_retention_rows_deleted_total', 'Rows deleted by retention.', sources.retentionDeleted);
    this.#batch = m.histogram('hearth_commit_batch_size', 'Readings per group commit.', MetricsRegistry.exponentialBuckets(1, 4, 7));
    this.#commit = m.histogram('hearth_commit_duration_seconds', 'Duration of one group-commit transaction.', MetricsRegistry.exponentialBuckets(0.0001, 4, 8));
    this.#ack = m.histogram('hearth_ack_latency_seconds', 'Oldest frame of a commit: accepted to ACK sent.', MetricsRegistry.exponentialBuckets(0.0005, 2, 12));
    this.#connectionsRefused = m.counter('hearth_connections_refused_total', 'HTTPS connections refused or closed before serving, by reason (per_address, open_files, busy, handshake_timeout, idle_timeout, queue_full, queue_timeout).', ['reason']);
    this.#upgradesRefused = m.counter('hearth_upgrades_refused_total', 'WebSocket upgrades refused on the HTTPS port, by error code.', ['code']);
    this.#unauthorized = m.counter('hearth_http_unauthorized_total', 'HTTP requests answered 401 (API, sign-in, /metrics).');
    this.#commands = m.counter('hearth_commands_total', 'Commands answered, by outcome (the device\'s status, or offline/timeout/invalid/unsupported from the hub).', ['status']);
  }

  start(): void {
    this.#process.start();
    this.#unsubscribe ??= this.#bus.on('command.result', (outcome) => this.#commands.inc({ status: outcome.status }));
  }

  stop(): void {
    this.#process.stop();
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  /** Feeds the commit histograms (IngestOptions.onCommit). */
  onCommit(readings: number, commitSeconds: number, ackWaitSeconds: number): void {
    this.#batch.observe(readings);
    this.#commit.observe(commitSeconds);
    this.#ack.observe(ackWaitSeconds);
  }

  /** The ACK latency histogram (seconds) so far: `<base>/bridge/health` reports its p99 per interval. */
  ackLatency(): HistogramSnapshot {
    return this.#ack.snapshot();
  }

  /** Counts a connection the HTTPS port refused or closed unserved (HttpFront's FrontCounters). */
  connectionRefused(reason: string): void {
    this.#connectionsRefused.inc({ reason });
  }

  /** Counts a refused WebSocket upgrade by its error code. */
  upgradeRefused(code: string): void {
    this.#upgradesRefused.inc({ code });
  }

  /** Counts an HTTP 401 answer. */
  unauthorized(): void {
    this.#unauthorized.inc();
  }

  /** GET /metrics: loopback clients, or the admin token from anywhere else. */
  serve(req: IncomingMessage, res: ServerResponse, isAdmin: boolean): void {
    const address = req.socket.remoteAddress ?? '';
    const loopback = address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
    if (!loopback && !isAdmin) {
      return sendJson(res, 401, { error: 'HUB_ERR_UNAUTHORIZED', message: '/metrics needs the admin token from a non-loopback address' });
    }
    res.writeHead(200, { 'content-type': MetricsRegistry.CONTENT_TYPE }).end(this.registry.render());
  }
}
