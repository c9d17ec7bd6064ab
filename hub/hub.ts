import { mkdirSync } from 'node:fs';
import { Authorizer } from './auth/authorizer.js';
import { dbPath, firmwareSettings, httpLimits, hubId, storeSettings, type HubConfig } from './config.js';
import { HubCluster } from './cluster/hub-cluster.js';
import { CliChangeWatch } from './devices/cli-change-watch.js';
import { CommandService } from './devices/command-service.js';
import { DeviceClaimer } from './devices/device-claimer.js';
import { DeviceRegistry } from './devices/device-registry.js';
import { EventBus } from './events.js';
import { Facade } from './facade.js';
import { FirmwareService } from './firmware/firmware-service.js';
import { DeviceGateway } from './gateway/device-gateway.js';
import { HealthServer } from './http/health-server.js';
import { HttpFront } from './http/server.js';
import { IngestPipeline } from './ingest/ingest-pipeline.js';
import { Lifecycle, part, type Part } from './lifecycle.js';
import type { Logger } from './logger.js';
import { bridgeOptions, brokerReady, mqttConfigured } from './mqtt/bridge-config.js';
import { MqttBridge } from './mqtt/mqtt-bridge.js';
import { HubMetrics } from './observability/hub-metrics.js';
import { HubStatus } from './observability/hub-status.js';
import { LogRing } from './observability/log-ring.js';
import { StatusSamples } from './observability/status-samples.js';
import { CompactionService } from './storage/compaction/service.js';
import { HUB_BUSY_TIMEOUT_MS, HubStore } from './storage/hub-store.js';
import { PgStore } from './storage/pg/pg-store.js';
import { PgUpkeep } from './storage/pg/pg-upkeep.js';
import type { HubStoreContract } from './storage/store-contract.js';
import { loadOrCreateTls, type TlsMaterial } from './tls.js';
import { HUB_VERSION } from './version.js';

export interface HubOptions {
  config: HubConfig;
  log: Logger;
  now?: () => number;
}

/**
 * The composition root: builds every part in the constructor, starts them in order and stops them in reverse.
 * It chooses the store: SQLite in dataDir (HubStore, the default) or PostgreSQL when `db.url` is set (PgStore);
 * `S` is the one the config chose, for tests that query it (HubStore unless they pass db.url).
 */
export class Hub<S extends HubStoreContract = HubStore> {
  readonly bus = new EventBus();
  readonly config: HubConfig;
  readonly store: S;
  readonly registry: DeviceRegistry;
  readonly ingest: IngestPipeline;
  readonly auth: Authorizer;
  readonly facade: Facade;
  /** Firmware updates [FP-14]; on PostgreSQL with the image bytes in the database, served by every hub on it. */
  readonly firmware: FirmwareService;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #gateway: DeviceGateway;
  readonly #compaction: CompactionService | undefined; // SQLite
  readonly #upkeep: PgUpkeep | undefined; // PostgreSQL
  readonly #cliWatch: CliChangeWatch;
  readonly #metrics: HubMetrics;
  readonly #samples: StatusSamples; // the hub page's last hour
  readonly #lifecycle: Lifecycle;
  readonly #front: HttpFront;
  readonly #health: HealthServer | undefined; // http.healthPort: probes that never queue behind TLS handshakes
  /** Several hubs on PostgreSQL: handover, presence, dead hubs and commands between hubs; none on SQLite. */
  readonly cluster: HubCluster | undefined;
  /** The MQTT bridge, when the config asks for one. */
  readonly mqtt: MqttBridge | undefined;
  #tls: TlsMaterial | undefined;
  #startedAt = 0;

  constructor(opts: HubOptions) {
    const c = (this.config = opts.config);
    const logs = new LogRing({ now: opts.now }); // the admin's warnings and errors
    const log = (this.#log = logs.wrap(opts.log.child({ hub: hubId(c) })));
    const now = (this.#now = opts.now ?? Date.now);
    const settings = storeSettings(c);
    const url = c['db.url'];
    const sqlite = url === null ? new HubStore({ ...settings, busyTimeoutMs: HUB_BUSY_TIMEOUT_MS, now }) : undefined;
    const pg = url === null ? undefined : new PgStore({ url, retention: settings.retention, now });
    const store: HubStoreContract = sqlite ?? pg!;
    this.store = store as S;
    this.registry = new DeviceRegistry(store, this.bus);
    this.auth = new Authorizer({ dataDir: c.dataDir, devices: this.registry, log, now, ...(pg ? { shared: pg.auth } : {}) }); // db.url: users, sessions, admin token shared
    this.ingest = new IngestPipeline(store, this.registry, this.bus, {
      ...{ commitIntervalMs: c['ingest.commitIntervalMs'], commitMaxReadings: c['ingest.commitMaxReadings'], maxPendingReadings: c['ingest.maxPendingReadings'] },
      now,
      log,
      onCommit: (readings, commitSeconds, ackWaitSeconds) => (this.#metrics.onCommit(readings, commitSeconds, ackWaitSeconds), this.#samples.observeAck(ackWaitSeconds)),
      onPressure: (paused) => this.#gateway.setPaused(paused),
      fenced: pg !== undefined,
    });
    this.firmware = new FirmwareService({ ...firmwareSettings(c), dataDir: c.dataDir, store, ...(pg && { imageBytes: pg.firmwareBytes }), registry: this.registry, bus: this.bus, now, log });
    const cluster = (this.cluster = pg && new HubCluster({
      ...{ hubId: hubId(c), store: pg.cluster, registry: this.registry, ingest: this.ingest, bus: this.bus, log, now },
      onCutOff: (message) => this.#gateway.cutOff(message),
    }));
    const commands = new CommandService({ registry: this.registry, store, bus: this.bus, timeoutMs: c['devices.commandTimeoutMs'], now, ...(cluster ? { remote: cluster } : {}) });
    if (cluster) cluster.sender = commands;
    const claimer = pg && new DeviceClaimer({ store: pg, ingest: this.ingest, hubId: hubId(c), onClaimed: (id, epoch) => cluster!.claimed(id, epoch) });
    this.#gateway = new DeviceGateway({
      ...{ heartbeatMs: c['devices.heartbeatMs'], greetingTimeoutMs: c['devices.greetingTimeoutMs'], maxFramesPerSecond: c['devices.maxFramesPerSecond'] },
      authenticate: (id, token) => this.auth.authenticateDevice(id, token),
      ...{ registry: this.registry, ingest: this.ingest, commands, now, log, updates: this.firmware },
      ...(claimer ? { claim: claimer.claim } : {}),
    });
    this.#compaction = sqlite && new CompactionService({ store: sqlite, log, now, dbPath: dbPath(c) });
    const upkeep = (this.#upkeep = pg && new PgUpkeep({ store: pg, log }));
    this.#cliWatch = new CliChangeWatch({ store: sqlite, ...(pg ? { changes: pg } : {}), registry: this.registry, users: this.auth, log, now });
    const status = new HubStatus({
      ...{ hubId: hubId(c), version: HUB_VERSION, registry: this.registry, ingest: this.ingest, gateway: this.#gateway, now },
      storeStats: sqlite ? () => sqlite.stats() : () => upkeep!.stats,
      compaction: () => this.#compaction?.stats() ?? upkeep?.info(),
      mqtt: () => this.mqtt,
      baseTopic: c['mqtt.baseTopic'],
      tls: () => this.#tls,
      ...{ startedAt: () => this.#startedAt, openFiles: () => this.#front.openFiles },
      ...(cluster ? { hubs: () => cluster.hubs() } : {}),
    });
    const journal = sqlite && { fault: () => sqlite.journalFault(), readings: () => sqlite.journalStats()?.readings ?? 0 };
    this.facade = new Facade({
      ...{ bus: this.bus, registry: this.registry, commands, store, ingest: this.ingest, now, info: () => status.info(), firmware: this.firmware },
      ...(cluster ? { cluster } : {}),
      ...(journal ? { journal } : {}),
    });
    [this.#metrics, this.#samples] = [new HubMetrics(status, log, this.bus), new StatusSamples(status, { now })];
    this.mqtt = mqttConfigured(c) ? new MqttBridge(bridgeOptions(c, { facade: this.facade, auth: this.auth, tls: () => this.tls, log, ackLatency: () => this.#metrics.ackLatency(), ...(cluster ? { cluster } : {}) })) : undefined;
    const ws = c['mqtt.embedded'] && c['mqtt.websocket'] ? this.mqtt : undefined;
    const ready = () => ({ storage: !this.ingest.stats.faulted && !sqlite?.journalFault() && !this.cluster?.cutOff, broker: brokerReady(c, this.mqtt?.addresses()) });
    this.#health = c['http.healthPort'] === null ? undefined : new HealthServer({ host: c.host, port: c['http.healthPort'], ready, log });
    this.#front = new HttpFront({
      ...{ host: c.host, port: c.port ?? 8443, tls: () => this.tls },
      ...{ auth: this.auth, facade: this.facade, now, log, limits: httpLimits(c), counters: this.#metrics },
      metrics: (req, res, isAdmin) => this.#metrics.serve(req, res, isAdmin),
      ready,
      devices: (req, socket, head) => this.#gateway.handleUpgrade(req, socket, head),
      mqtt: ws ? (req, socket, head) => ws.handleUpgrade(req, socket, head) : null,
      observability: { samples: this.#samples, logs, retention: { rawDays: c['retention.rawDays'], rollupDays: c['retention.rollupDays'] } },
    });
    this.#lifecycle = new Lifecycle(log);
  }

  /** Binds the HTTPS port, starts storage, credentials, compaction, MQTT, the device gateway and metrics, then serves. */
  async start(): Promise<void> {
    this.#startedAt = this.#now();
    await this.#lifecycle.start(this.#parts());
    this.#log.info({ hubId: hubId(this.config), url: this.url, certificate: this.tls.certPath, sha256: this.tls.fingerprint }, 'hub listening');
  }

  /** Stops in reverse: devices get their final ACKs and 1001 while MQTT still runs; nothing acknowledged is lost. */
  async stop(): Promise<void> {
    if (await this.#lifecycle.stop()) this.#log.info('hub stopped');
  }

  #parts(): Part[] {
    const c = this.config;
    return [
      { name: 'tls', start: async () => void (mkdirSync(c.dataDir, { recursive: true, mode: 0o700 }), (this.#tls = await loadOrCreateTls({ dataDir: c.dataDir, certFile: c['tls.cert'], keyFile: c['tls.key'], log: this.#log }))), stop: () => undefined },
      // Bound first, served last (https-open): a restarting hub's fleet queues instead of being refused.
      { name: 'https', start: () => this.#front.listen(), stop: () => this.#front.stop() },
      { name: 'storage', start: () => this.#openStorage(), stop: () => this.store.close() },
      { name: 'auth', start: () => this.auth.start(), stop: () => undefined },
      ...(this.#compaction ? [part('compaction', this.#compaction)] : []),
      ...(this.#upkeep ? [part('pg-upkeep', this.#upkeep)] : []),
      ...(this.cluster ? [part('cluster', this.cluster)] : []),
      ...(this.mqtt ? [part('mqtt', this.mqtt)] : []),
      part('firmware', this.firmware),
      part('devices', this.#gateway),
      ...[part('metrics', this.#metrics), part('status-samples', this.#samples)],
      part('cli-watch', this.#cliWatch),
      { name: 'https-open', start: () => this.#front.start(), stop: () => this.#front.stopAccepting() },
      ...(this.#health ? [part('health', this.#health)] : []), // last: answering means every part serves
    ];
  }

  /** Opens the store, then loads devices and sequence state (awaited on PostgreSQL, at once on SQLite). */
  async #openStorage(): Promise<void> {
    await this.store.open();
    await this.registry.load();
    await this.ingest.start();
  }

  get url(): string { return this.#front.url; } // prettier-ignore
  get port(): number { return this.#front.port; } // prettier-ignore

  get tls(): TlsMaterial { if (!this.#tls) throw new Error('hub not started'); return this.#tls; } // prettier-ignore
  get adminToken(): string { return this.auth.adminToken; } // prettier-ignore
}
