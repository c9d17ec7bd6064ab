import type { DeviceRegistry } from '../devices/device-registry.js';
import type { HubInfoResponse } from '../http/api-types.js';
import type { IngestPipeline, IngestStats } from '../ingest/ingest-pipeline.js';
import type { StoreStats } from '../storage/types.js';
import type { MetricSources } from './hub-metrics.js';

/** The running parts the hub's status is read from; getters, since some exist only once started. */
export interface HubStatusParts {
  hubId: string;
  version: string;
  registry: DeviceRegistry;
  ingest: IngestPipeline;
  /** Storage sizes and counts now (SQLite) or as last counted (PostgreSQL, PgUpkeep). */
  storeStats: () => StoreStats;
  gateway: { readonly connectionCount: number; readonly refused: ReadonlyMap<string, number> };
  compaction: () => { retentionDeleted: number } | undefined;
  mqtt: () => { stats(): { clients: number; messages: number; streamDropped: number }; addresses(): object; refusals?(): ReadonlyMap<string, number> } | undefined;
  baseTopic: string;
  tls: () => { fingerprint: string; certPath: string } | undefined;
  startedAt: () => number;
  now: () => number;
  /** The HTTPS port's descriptor count and ceiling (HttpFront.openFiles). */
  openFiles?: () => { open: number; ceiling: number } | null;
  /** Several hubs on PostgreSQL: every hub on the database, alive or not (HubCluster.hubs). */
  hubs?: () => Array<{ id: string; alive: boolean; seenAt: number }>;
}

/** One reading of the hub's state for both GET /api/hub and /metrics, so the two never disagree. */
export class HubStatus implements MetricSources {
  readonly #p: HubStatusParts;

  constructor(parts: HubStatusParts) {
    this.#p = parts;
  }

  connections = (): number => this.#p.gateway.connectionCount;
  online = (): number => this.#p.registry.onlineCount;
  ingest = (): IngestStats => this.#p.ingest.stats;
  refused = (): ReadonlyMap<string, number> => this.#p.gateway.refused;
  mqtt = (): { clients: number; messages: number; streamDropped: number } | null => this.#p.mqtt()?.stats() ?? null;
  mqttRefused = (): ReadonlyMap<string, number> => this.#p.mqtt()?.refusals?.() ?? new Map();
  storageBytes = (): number => this.#p.storeStats().bytes;
  retentionDeleted = (): number => this.#p.compaction()?.retentionDeleted ?? 0;
  commitFailures = (): ReadonlyMap<string, number> => this.#p.ingest.failuresByCause;
  storageFault = (): string | undefined => this.#p.ingest.fault?.cause;
  identity = (): { hubId: string; version: string } => ({ hubId: this.#p.hubId, version: this.#p.version });
  openFiles = (): { open: number; ceiling: number } | null => this.#p.openFiles?.() ?? null;

  /** GET /api/hub: version, uptime, devices, ingest, refusals, storage, MQTT and TLS. */
  info(): HubInfoResponse {
    const { registry, storeStats, version, now, startedAt } = this.#p;
    const mqtt = this.#p.mqtt();
    const tls = this.#p.tls();
    return {
      hubId: this.#p.hubId,
      version,
      uptimeMs: now() - startedAt(),
      devices: { total: registry.list().length, online: registry.onlineCount, connections: this.connections() },
      ingest: { ...this.ingest() },
      refused: Object.fromEntries(this.refused()),
      storage: { ...storeStats(), compaction: (this.#p.compaction() as Record<string, unknown> | undefined) ?? null },
      mqtt: mqtt ? { baseTopic: this.#p.baseTopic, ...mqtt.stats(), ...mqtt.addresses() } : null,
      tls: { sha256: tls?.fingerprint ?? '', certificate: tls?.certPath ?? '' },
      ...(this.#p.hubs ? { hubs: this.#p.hubs() } : {}),
    };
  }
}
