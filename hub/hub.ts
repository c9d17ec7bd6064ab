import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import { LIMITS } from '../protocol/constants.js';
import { CommandService } from './devices/command-service.js';
import { dbPath, type HubConfig } from './config.js';
import { DeviceRegistry } from './devices/device-registry.js';
import { EventBus, type CommandOutcome, type DeviceInfo } from './events.js';
import type { CurrentValue, HubFacade } from './facade.js';
import { DeviceSession } from './gateway/device-session.js';
import { createApi } from './http/api.js';
import { sendJson } from './http/respond.js';
import type { Role } from './auth/user-store.js';
import { createSessionApi, originAllowed, SESSION_MQTT_USER, SESSION_PATH, sessionRole, SessionStore } from './http/sessions.js';
import { createStaticFiles } from './http/static-files.js';
import { fileURLToPath } from 'node:url';
import { IngestPipeline } from './ingest/ingest-pipeline.js';
import type { Logger } from './logger.js';
import { Maintenance } from './maintenance.js';
import { HubMetrics } from './observability/hub-metrics.js';
import { HubStore } from './storage/hub-store.js';
import { loadOrCreateTls, type TlsMaterial } from './tls.js';
import { DeviceServer } from './transport/device-server.js';
import { refuseUpgrade, UpgradeRouter } from './transport/upgrade-router.js';
import { MqttBridge } from './mqtt/mqtt-bridge.js';
import { UserStore } from './auth/user-store.js';

const DAY = 24 * 3600_000;
/** The built dashboard: dist/dashboard beside dist/hub (this file runs from dist/hub or, under jest, hub/). */
const DASHBOARD_DIR = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../dashboard/' : '../dist/dashboard/', import.meta.url));

export interface HubOptions {
  config: HubConfig;
  log: Logger;
  now?: () => number;
}

/** The hub: devices over wss, storage, HTTP API; built in the constructor, started and stopped in order. */
export class Hub implements HubFacade {
  readonly bus = new EventBus();
  readonly config: HubConfig;
  readonly store: HubStore;
  readonly registry: DeviceRegistry;
  readonly ingest: IngestPipeline;
  readonly commands: CommandService;
  readonly users: UserStore;
  readonly sessions: SessionStore;
  readonly #log: Logger;
  #mqtt: MqttBridge | undefined;
  readonly #now: () => number;
  readonly #router = new UpgradeRouter();
  readonly #sessions = new Set<DeviceSession>();
  readonly #refused = new Map<string, number>();
  readonly #deviceServer: DeviceServer;
  readonly #maintenance: Maintenance;
  readonly #metrics: HubMetrics;
  #server: Server | undefined;
  #tls: TlsMaterial | undefined;
  #adminToken = '';
  #startedAt = 0;

  constructor(opts: HubOptions) {
    const { config } = opts;
    this.config = config;
    this.#log = opts.log;
    this.#now = opts.now ?? Date.now;
    this.store = new HubStore({
      path: dbPath(config),
      synchronous: config['db.synchronous'] as 'NORMAL' | 'FULL',
      retention: { rawMs: config['retention.rawDays'] * DAY, rollupMs: config['retention.rollupDays'] * DAY },
      now: this.#now,
    });
    this.registry = new DeviceRegistry(this.store, this.bus);
    this.users = new UserStore({ dataDir: config.dataDir, now: this.#now });
    this.sessions = new SessionStore({ now: this.#now });
    this.ingest = new IngestPipeline(this.store, this.registry, this.bus, {
      commitIntervalMs: config['ingest.commitIntervalMs'],
      commitMaxReadings: config['ingest.commitMaxReadings'],
      maxPendingReadings: config['ingest.maxPendingReadings'],
      now: this.#now,
      log: this.#log,
      onCommit: (readings, commitSeconds, ackWaitSeconds) => this.#metrics.onCommit(readings, commitSeconds, ackWaitSeconds),
      onPressure: (paused) => {
        for (const s of this.#sessions) {
          if (paused) s.pause();
          else s.resume();
        }
      },
    });
    this.commands = new CommandService({
      registry: this.registry,
      store: this.store,
      bus: this.bus,
      timeoutMs: config['devices.commandTimeoutMs'],
      now: this.#now,
    });
    this.#deviceServer = new DeviceServer({
      heartbeatMs: config['devices.heartbeatMs'],
      authenticate: (id, token) => this.registry.authenticate(id, token),
      open: (link) => {
        const session = new DeviceSession(link, {
          registry: this.registry,
          ingest: this.ingest,
          onCommandResult: (id, frame) => this.commands.onResult(id, frame),
          welcome: {
            heartbeatMs: config['devices.heartbeatMs'],
            maxFrameBytes: LIMITS.maxFrameBytes,
            maxReadingsPerFrame: LIMITS.maxReadingsPerFrame,
            maxBatchSamples: LIMITS.maxBatchSamples,
            maxFramesPerSecond: config['devices.maxFramesPerSecond'],
          },
          greetingTimeoutMs: config['devices.greetingTimeoutMs'],
          now: this.#now,
          log: this.#log,
          onRefused: (code) => this.#refused.set(code, (this.#refused.get(code) ?? 0) + 1),
        });
        this.#sessions.add(session);
        void session.closed.then(() => this.#sessions.delete(session));
        session.start();
        return session;
      },
    });
    this.#maintenance = new Maintenance({ store: this.store, registry: this.registry, log: this.#log, now: this.#now, dbPath: dbPath(config) });
    this.#metrics = new HubMetrics(
      {
        connections: () => this.#deviceServer.connectionCount,
        online: () => this.registry.onlineCount,
        ingest: () => this.ingest.stats,
        refused: () => this.#refused,
        mqtt: () => this.#mqtt?.stats() ?? null,
        storageBytes: () => this.store.stats().bytes,
        retentionDeleted: () => this.#maintenance.stats()?.retentionDeleted ?? 0,
      },
      this.#log,
      this.bus,
    );
  }

  /** Opens storage, then serves HTTPS (devices, API) on the configured port. */
  async start(): Promise<void> {
    this.#startedAt = this.#now();
    mkdirSync(this.config.dataDir, { recursive: true, mode: 0o700 });
    this.store.open();
    this.registry.load();
    this.ingest.start();
    this.#adminToken = this.#loadAdminToken();
    this.users.load();
    await this.#ensureAdminUser();
    this.#tls = await loadOrCreateTls({
      dataDir: this.config.dataDir,
      certFile: this.config['tls.cert'] ?? undefined,
      keyFile: this.config['tls.key'] ?? undefined,
    });
    if (this.#tls.generated) this.#log.info({ path: this.#tls.certPath, sha256: this.#tls.fingerprint }, 'generated a self-signed TLS certificate');
    const api = createApi({
      registry: this.registry,
      store: this.store,
      commands: this.commands,
      now: this.#now,
      authorize: (req) => this.#authorize(req),
      health: () => this.#health(),
      hubInfo: () => this.hubInfo(),
    });
    const sessionApi = createSessionApi({ sessions: this.sessions, users: this.users, now: this.#now });
    const dashboard = createStaticFiles({ root: DASHBOARD_DIR });
    const server = createServer({ key: this.#tls.key, cert: this.#tls.cert }, (req, res) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      if (path === SESSION_PATH) return void sessionApi(req, res);
      if (path === '/metrics') return this.#metrics.serve(req, res, this.#authorize(req) === 'admin');
      if (path === '/healthz') return sendJson(res, 200, { status: 'alive' });
      if (path === '/readyz') return this.#ready(res);
      if (path.startsWith('/api/')) return void api(req, res);
      void dashboard(req, res);
    });
    this.#server = server;
    this.#router.route(DeviceServer.matches, (req, socket, head) => this.#deviceServer.handleUpgrade(req, socket, head));
    if (this.config['mqtt.embedded'] && this.config['mqtt.websocket']) {
      // The bridge's own upgrade listener serves /mqtt; the router refuses cross-site browsers first (the
      // bridge then finds the socket closed) and otherwise only keeps /mqtt from being answered 404.
      this.#router.route((path) => path === '/mqtt', (req, socket) => {
        if (!originAllowed(req)) {
          refuseUpgrade(socket, 403, { error: 'HUB_ERR_ORIGIN', message: `WebSocket from origin ${req.headers.origin} refused: open the dashboard from this hub` });
        }
      });
    }
    this.#router.attach(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.port ?? 8443, this.config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#deviceServer.start();
    this.#maintenance.start();
    this.#metrics.start();
    await this.#startMqtt(server);
    this.#log.info({ url: this.url, certificate: this.#tls.certPath, sha256: this.#tls.fingerprint }, 'hub listening');
  }

  /**
   * Stops taking connections, commits and acknowledges everything received, closes devices with 1001, and
   * closes storage. Nothing acknowledged is lost; nothing received is dropped silently.
   */
  async stop(): Promise<void> {
    if (!this.#server) return;
    const server = this.#server;
    this.#server = undefined;
    this.#router.refuseAll();
    server.close();
    for (const s of this.#sessions) s.pause();
    this.#metrics.stop();
    this.#deviceServer.stop();
    if (!this.ingest.flush()) this.#log.error('final commit failed: unacknowledged readings stay with their devices');
    this.ingest.stop();
    const closed = Promise.all([...this.#sessions].map((s) => s.closed));
    for (const s of this.#sessions) s.closeGoingAway();
    await Promise.race([closed, new Promise((r) => setTimeout(r, 3000).unref())]);
    this.commands.stop();
    await this.#mqtt?.stop();
    server.closeAllConnections();
    await this.#maintenance.stop(); // the compaction worker finishes its pass and closes its connection
    this.store.close();
    this.#log.info('hub stopped');
  }

  get url(): string {
    const address = this.#server?.address() as AddressInfo | null | undefined;
    const host = this.config.host === '0.0.0.0' || this.config.host === '::' ? 'localhost' : this.config.host;
    return `https://${host}:${address?.port ?? this.config.port}`;
  }

  get port(): number {
    return (this.#server?.address() as AddressInfo).port;
  }

  get tls(): TlsMaterial {
    if (!this.#tls) throw new Error('hub not started');
    return this.#tls;
  }

  get adminToken(): string {
    return this.#adminToken;
  }

  devices(): DeviceInfo[] {
    return this.registry.list();
  }

  device(id: string): DeviceInfo | undefined {
    return this.registry.info(id);
  }

  currentState(id: string): Record<string, CurrentValue> {
    return this.registry.currentState(id);
  }

  sendCommand(deviceId: string, command: string, input: unknown, source: string): Promise<CommandOutcome> {
    return this.commands.send(deviceId, command, input, source);
  }

  hubInfo(): Record<string, unknown> {
    const stats = this.store.stats();
    return {
      version: process.env.npm_package_version ?? '0.1.0',
      uptimeMs: this.#now() - this.#startedAt,
      devices: { total: this.registry.list().length, online: this.registry.onlineCount, connections: this.#deviceServer.connectionCount },
      ingest: { ...this.ingest.stats },
      refused: Object.fromEntries(this.#refused),
      storage: { ...stats, compaction: this.#maintenance.stats() ?? null },
      mqtt: this.#mqtt ? { baseTopic: this.config['mqtt.baseTopic'], ...this.#mqtt.stats(), ...this.#mqtt.addresses() } : null,
      tls: { sha256: this.#tls?.fingerprint, certificate: this.#tls?.certPath },
    };
  }

  get mqtt(): MqttBridge | undefined {
    return this.#mqtt;
  }

  async #startMqtt(server: Server): Promise<void> {
    const c = this.config;
    if (!c['mqtt.embedded'] && !c['mqtt.url']) return;
    this.#mqtt = new MqttBridge({
      facade: this,
      // Dashboard sessions sign in to MQTT over WebSocket as user `session` with their token.
      users: {
        verify: async (name, password) =>
          name === SESSION_MQTT_USER ? (this.sessions.verify(password)?.role ?? null) : this.users.verify(name, password),
      },
      baseTopic: c['mqtt.baseTopic'],
      discoveryPrefix: c['mqtt.discoveryPrefix'],
      embedded: c['mqtt.embedded'],
      host: c['mqtt.host'],
      tcpPort: c['mqtt.port'],
      tlsPort: c['mqtt.tlsPort'],
      tls: { key: this.tls.key, cert: this.tls.cert },
      wsServer: c['mqtt.websocket'] ? server : null,
      allowAnonymous: c['mqtt.allowAnonymous'],
      external: c['mqtt.url']
        ? {
            url: c['mqtt.url'],
            ...(c['mqtt.username'] ? { username: c['mqtt.username'] } : {}),
            ...(c['mqtt.password'] ? { password: c['mqtt.password'] } : {}),
            ...(c['mqtt.ca'] ? { ca: readFileSync(c['mqtt.ca']) } : {}),
          }
        : null,
      logger: this.#log,
    });
    await this.#mqtt.start();
    const a = this.#mqtt.addresses();
    this.#log.info({ tcp: a.tcp, tls: a.tls, ws: a.ws, external: c['mqtt.url'] ?? null }, 'MQTT bridge started');
  }

  /** On first start there are no users: create `admin` with a random password, printed once. */
  async #ensureAdminUser(): Promise<void> {
    if (!this.users.isEmpty()) return;
    const password = randomBytes(12).toString('base64url');
    await this.users.add('admin', password, 'admin');
    // Like Jenkins' initialAdminPassword: a 0600 file, so the secret never lands in logs.
    const file = join(this.config.dataDir, 'initial-admin-password');
    writeFileSync(file, `${password}\n`, { mode: 0o600 });
    this.#log.warn({ user: 'admin', passwordFile: file }, 'created the first user (MQTT and dashboard); its password is in passwordFile');
  }

  /** Ready: the database takes writes (ingest is not failing) and each configured MQTT listener is bound. */
  #ready(res: import('node:http').ServerResponse): void {
    const storage = !this.ingest.stats.faulted;
    const c = this.config;
    const a = this.#mqtt?.addresses();
    const broker = !c['mqtt.embedded'] || (a !== undefined && (c['mqtt.port'] === null || a.tcp !== null) && (c['mqtt.tlsPort'] === null || a.tls !== null));
    const ok = storage && broker;
    sendJson(res, ok ? 200 : 503, { status: ok ? 'ready' : 'not ready', storage: storage ? 'ok' : 'failing', broker: broker ? 'ok' : 'down' });
  }

  #health(): { ok: boolean; detail: Record<string, unknown> } {
    const faulted = this.ingest.stats.faulted;
    return { ok: !faulted, detail: { storage: faulted ? 'failing' : 'ok', devicesOnline: this.registry.onlineCount } };
  }

  #authorize(req: IncomingMessage): Role | null {
    const header = req.headers.authorization;
    if (!header?.startsWith('Bearer ')) return null;
    const session = sessionRole(this.sessions, req);
    if (session) return session;
    const given = Buffer.from(header.slice(7).trim());
    const expected = Buffer.from(this.#adminToken);
    return given.length === expected.length && timingSafeEqual(given, expected) ? 'admin' : null;
  }

  /** The admin API token lives in dataDir/admin.token (0600), created on first start. */
  #loadAdminToken(): string {
    const file = join(this.config.dataDir, 'admin.token');
    if (existsSync(file)) return readFileSync(file, 'utf8').trim();
    const token = `ha1_${randomBytes(24).toString('base64url')}`;
    writeFileSync(file, `${token}\n`, { mode: 0o600 });
    this.#log.info({ path: file }, 'created the admin API token');
    return token;
  }
}
