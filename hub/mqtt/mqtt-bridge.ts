import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { refuseUpgrade } from '../http/refuse-upgrade.js';
import { randomBytes } from 'node:crypto';
import { maskUrlCredentials } from '../config.js';
import type { DeviceAdmin, DeviceFacade } from '../facade.js';
import { systemTimers, type Timers } from '../timers.js';
import { BridgeApi, type RequestSender } from './bridge-api.js';
import type { HistogramSnapshot } from '../observability/metrics-registry.js';
import { BridgeStatus } from './bridge-status.js';
import { ROLES, type Role } from '../auth/user-store.js';
import { Acl } from './acl.js';
import { AclFileSource } from './acl-file.js';
import type { BrokerLimits } from './broker-guard.js';
import { EmbeddedBroker, type EmbeddedBrokerAddresses, type MqttAuthenticator } from './embedded-broker.js';
import { ExternalBroker } from './external-broker.js';
import type { DiscoveryMode } from './discovery.js';
import { HubMirror } from './hub-mirror.js';
import { RetainedStore } from './retained-store.js';
import { UpdateMirror } from './update-mirror.js';
import { SILENT_LOGGER, type MqttLogger } from './logger.js';
import { DEFAULT_BASE_TOPIC, DEFAULT_DISCOVERY_PREFIX, Topics } from './topics.js';

export const MQTT_DEFAULTS = {
  host: '127.0.0.1',
  tcpPort: 1883,
  tlsPort: 8883,
  wsPath: '/mqtt',
  wsMaxPayload: 256 * 1024,
  baseTopic: DEFAULT_BASE_TOPIC,
  discoveryPrefix: DEFAULT_DISCOVERY_PREFIX,
  reconnectPeriodMs: 2000,
  connectTimeoutMs: 10_000,
  rediscoverDelayMs: 5000,
  rediscoverRate: 500,
  stateHeartbeatMs: 300_000,
  stateMinIntervalMs: 100,
  healthIntervalMs: 10_000,
  discoveryMode: 'device',
} as const;

/** The hub as a client of another broker, beside or instead of the embedded one. */
export interface MqttExternalOptions {
  /** mqtt://host:port or mqtts://host:port. */
  url: string;
  username?: string;
  password?: string;
  /** PEM CA(s) for mqtts. */
  ca?: string | Buffer;
  rejectUnauthorized?: boolean;
  /** Default: the bridge's baseTopic. */
  baseTopic?: string;
  /** Default: `hearth-<baseTopic>`; must be unique on that broker. */
  clientId?: string;
  /** Default 2000. */
  reconnectPeriodMs?: number;
  /** Default 10000. */
  connectTimeoutMs?: number;
  /** MQTT version spoken to it: 5 (default) or 4 (3.1.1). */
  protocolVersion?: 4 | 5;
}

export interface MqttBridgeOptions {
  facade: DeviceFacade;
  /** Device management for `<base>/bridge/request/...` (the hub's HubFacade); null: only devices and health_check. */
  admin?: DeviceAdmin | null;
  /** Longest random wait before re-publishing after `<prefix>/status` online; default 5000. */
  rediscoverDelayMs?: number;
  /** Retained publishes per second while re-publishing; default 500. */
  rediscoverRate?: number;
  /** Re-send an unchanged state at most this often (when a reading arrives); 0 never; default 300000. */
  stateHeartbeatMs?: number;
  /** A device's state goes out at most once in this many ms (the latest value at the interval's end); 0: every change; default 100. */
  stateMinIntervalMs?: number;
  /** `<base>/bridge/health` interval; 0 none; default 10000. */
  healthIntervalMs?: number;
  /** Git commit of the build for `<base>/bridge/info`; default null. */
  commit?: string | null;
  /** `hub.id` for `<base>/bridge/info`; default 'hearth'. */
  hubId?: string;
  /** The hub's ACK latency histogram (seconds) for `<base>/bridge/health`'s ackLatencyP99Ms; none: null there. */
  ackLatency?: (() => HistogramSnapshot) | null;
  /** Injected clock and timers (tests); default Date.now, Node's timers and Math.random. */
  now?: () => number;
  timers?: Timers;
  random?: () => number;
  /** Checks MQTT credentials (hub/auth). */
  auth: MqttAuthenticator;
  /** Root of the topic tree; default 'hearth'. */
  baseTopic?: string;
  /** Home Assistant discovery prefix; default 'homeassistant'. */
  discoveryPrefix?: string;
  /** Publish Home Assistant discovery configs; default true. */
  discovery?: boolean;
  /** Device-based discovery (HA 2024.11+, the default) or one config per entity for older HA. */
  discoveryMode?: DiscoveryMode;
  /** The hub's version, in discovery's origin and the hub's own device. */
  hubVersion?: string;
  /** The hub's public base URL (`https://host:port`) for configuration_url; none when absent. */
  hubUrl?: string | null;
  /** Run the embedded broker; default true. */
  embedded?: boolean;
  /** Address the TCP and TLS listeners bind to; default 127.0.0.1. */
  host?: string;
  /** MQTT over TCP; default 1883, null/false for none, 0 for any free port. */
  tcpPort?: number | null | false;
  /** MQTT over TLS; default 8883 when `tls` is given, else none; null/false for none. */
  tlsPort?: number | null | false;
  /** The hub's key and certificate (PEM) for the TLS listener. */
  tls?: TlsPems | (() => TlsPems) | null;
  /** Serve MQTT over WebSocket: the HTTPS front hands upgrades of wsPath to handleUpgrade(). Default false. */
  websocket?: boolean;
  /** Where the front serves it, for addresses(); default '/mqtt'. */
  wsPath?: string;
  /** Largest WebSocket message; default limits.maxPacketBytes, else 256 KiB. */
  wsMaxPayload?: number;
  /** Let clients without a user name in; default false. */
  allowAnonymous?: boolean;
  /** Role of anonymous clients when allowed; default 'viewer'. */
  anonymousRole?: Role;
  /** Roles that may connect; default all. A known user with another role gets CONNACK 5. */
  allowedRoles?: readonly Role[];
  /** Mosquitto-format ACL file refining the roles per user (acl-file.ts); none by default. */
  aclFile?: string | null;
  /** Where the embedded broker keeps other integrations' retained messages across restarts; none: memory only. */
  retainedFile?: string | null;
  /** The embedded broker's limits against hostile clients (`mqtt.maxPacketBytes` ...); default DEFAULT_BROKER_LIMITS. */
  limits?: Partial<BrokerLimits>;
  /** Also (or only, with embedded: false) publish into an external broker. */
  external?: MqttExternalOptions | null;
  /**
   * Several hubs share the external broker (PostgreSQL, issue #16): each connects as `hearth-<base>-<hubId>`
   * with its will on `<base>/bridge/hubs/<hubId>/state`, takes commands and bridge requests through shared
   * subscriptions (`$share/hearth-<base>/...`, so one hub answers each) and publishes the state of its own
   * devices only. `othersAlive()`: whether another hub runs (then its stop leaves `<base>/bridge/state` online).
   * On the external broker it publishes the discovery, availability and update topics of the devices it holds,
   * and the caretaker (`caretaker()`: HubCluster's) those of the devices no hub holds and the device list.
   */
  cluster?: { othersAlive(): boolean; caretaker(): boolean } | null;
  logger?: MqttLogger;
}

/** A key and certificate in PEM. */
export interface TlsPems {
  key: string | Buffer;
  cert: string | Buffer;
}

export interface MqttBridgeAddresses extends EmbeddedBrokerAddresses {
  /** Whether the external broker connection is up (null: no external broker). */
  externalConnected: boolean | null;
}

/**
 * The MQTT bridge: the embedded broker and/or an external broker connection, each fed by a HubMirror that
 * publishes the topic tree from the EventBus and routes `<base>/<device>/set/<command>` to the hub.
 */
/** One broker's side of the bridge: the device tree (mirror), the bridge topics (status) and requests (api). */
interface Side<B> {
  broker: B;
  mirror: HubMirror;
  status: BridgeStatus;
  api: BridgeApi;
  topics: Topics;
  updates: UpdateMirror;
}

export class MqttBridge {
  readonly #opts: MqttBridgeOptions;
  #embedded: Side<EmbeddedBroker> | null = null;
  #external: Side<ExternalBroker> | null = null;

  constructor(opts: MqttBridgeOptions) {
    this.#opts = opts;
  }

  /** Starts the embedded broker and publishes the retained tree; starts connecting to the external broker. */
  async start(): Promise<void> {
    const o = this.#opts;
    const log = o.logger ?? SILENT_LOGGER;
    const prefix = o.discoveryPrefix ?? MQTT_DEFAULTS.discoveryPrefix;
    const discovery = o.discovery ?? true;
    // A function: the hub loads its certificate after building the bridge, before starting it.
    const tls = typeof o.tls === 'function' ? o.tls() : (o.tls ?? null);
    const tlsPort = portOption(o.tlsPort, tls ? MQTT_DEFAULTS.tlsPort : null);
    if (tlsPort !== null && !tls) throw new Error('HUB_ERR_CONFIG: mqtt tlsPort is set but no TLS key/certificate was given');
    const allowedRoles = o.allowedRoles ?? ROLES;

    try {
      if (o.embedded ?? true) {
        const topics = new Topics(o.baseTopic ?? MQTT_DEFAULTS.baseTopic, prefix);
        let side: Side<EmbeddedBroker> | null = null;
        const broker = new EmbeddedBroker({
          host: o.host ?? MQTT_DEFAULTS.host,
          tcpPort: portOption(o.tcpPort, MQTT_DEFAULTS.tcpPort),
          tlsPort,
          tls,
          websocket: o.websocket ?? false,
          wsPath: o.wsPath ?? MQTT_DEFAULTS.wsPath,
          wsMaxPayload: o.wsMaxPayload ?? o.limits?.maxPacketBytes ?? MQTT_DEFAULTS.wsMaxPayload,
          auth: o.auth,
          allowAnonymous: o.allowAnonymous ?? false,
          anonymousRole: o.anonymousRole ?? 'viewer',
          allowedRoles,
          acl: new Acl(topics, o.aclFile ? AclFileSource.open(o.aclFile, log) : null),
          retained: o.retainedFile ? new RetainedStore({ path: o.retainedFile, logger: log }) : null,
          ...(o.limits ? { limits: o.limits } : {}),
          logger: log,
          onClientPublish: (topic, payload, source, role) => side && route(side, topic, payload, source, role),
        });
        // Every device on this hub's own broker: its local clients see the whole installation.
        side = this.#side(broker, topics, null, log, o.cluster ? (o.hubId ?? 'hearth') : undefined, false);
        this.#embedded = side;
        await broker.start();
        side.mirror.attach();
        side.updates.attach();
        await side.mirror.publishAll();
        await side.updates.publishAll();
        await side.status.start();
      }
      if (o.external) {
        const x = o.external;
        const topics = new Topics(x.baseTopic ?? o.baseTopic ?? MQTT_DEFAULTS.baseTopic, prefix);
        const clusterId = o.cluster ? (o.hubId ?? 'hearth') : undefined;
        const canaryTopic = clusterId === undefined ? topics.bridgeCanary() : topics.hubCanary(clusterId);
        let side: Side<ExternalBroker> | null = null;
        // This run's mark on the broker's retained set: any other value (or none) there means it was lost.
        const canary = randomBytes(8).toString('hex');
        let canaryArmed = false;
        const republish = () => {
          if (!side) return;
          canaryArmed = false;
          const s = side;
          Promise.all([s.mirror.publishAll(), s.updates.publishAll()]).then(() => {
            canaryArmed = true;
            return s.status.publishInfo();
          }).catch((err: unknown) => log.error({ err: String(err) }, 'republishing the retained tree to the external broker failed; the next reconnect retries'));
        };
        const broker = new ExternalBroker({
          url: x.url,
          ...(x.username !== undefined ? { username: x.username } : {}),
          ...(x.password !== undefined ? { password: x.password } : {}),
          ...(x.ca !== undefined ? { ca: x.ca } : {}),
          ...(x.rejectUnauthorized !== undefined ? { rejectUnauthorized: x.rejectUnauthorized } : {}),
          clientId: x.clientId ?? `hearth-${topics.base.replace(/[^A-Za-z0-9_-]/g, '_')}${clusterId ? `-${clusterId}` : ''}`,
          will: { topic: clusterId ? topics.hubState(clusterId) : topics.bridgeState(), payload: 'offline' },
          // Other hubs' devices, relayed into the embedded broker so this hub's dashboard and local clients
          // see every device live (`<base>/<device>/<topic>`, not bridge topics).
          ...(clusterId && this.#embedded ? { peerFilters: [`${topics.base}/+/+`, `${topics.base}/+/event/+`] } : {}),
          subscribeFilters: [
            ...[topics.setFilter(), topics.bridgeRequestFilter(), topics.updateInstallFilter()].map((f) => (clusterId ? `$share/${shareGroup(topics.base)}/${f}` : f)),
            ...[topics.discoveryStatus(), canaryTopic],
          ],
          reconnectPeriodMs: x.reconnectPeriodMs ?? MQTT_DEFAULTS.reconnectPeriodMs,
          connectTimeoutMs: x.connectTimeoutMs ?? MQTT_DEFAULTS.connectTimeoutMs,
          protocolVersion: x.protocolVersion ?? 5,
          logger: log,
          onConnect: republish,
          onMessage: (topic, payload, source, retained) => {
            if (!side) return;
            if (clusterId && this.#relay(topics, topic, payload, retained)) return;
            if (topic !== canaryTopic) return route(side, topic, payload, source, 'external');
            // Ours echoed back is fine; before our own went out, an old one is overwritten anyway [issue §2].
            if (!canaryArmed || payload.toString('utf8') === JSON.stringify({ instance: canary })) return;
            log.warn({ url: x.url.replace(/\/\/[^@/]*@/, '//') }, 'the external broker lost the retained messages; re-publishing');
            republish();
          },
        });
        side = this.#side(broker, topics, canary, log, clusterId, true);
        this.#external = side;
        side.mirror.attach();
        side.updates.attach();
        await broker.start();
        await side.status.start();
      }
      const a = this.addresses();
      log.info({ tcp: a.tcp, tls: a.tls, ws: a.ws, external: o.external ? maskUrlCredentials(o.external.url) : null }, 'MQTT bridge started');
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** Publishes bridge/state offline, lets queued publishes go out, then disconnects and closes the broker. */
  async stop(): Promise<void> {
    const parts = [this.#external, this.#embedded].filter((p) => p !== null);
    this.#external = null;
    this.#embedded = null;
    for (const { mirror, status, updates } of parts) {
      updates.detach();
      mirror.detach();
      status.stop();
    }
    await Promise.all(parts.map(({ mirror }) => mirror.publishOffline()));
    for (const { broker } of parts) await broker.stop();
  }

  /**
   * Several hubs: another hub's device topic (`<base>/<device>/<topic>` or `.../event/<name>`, from the peer filters) is published
   * into the embedded broker as it came (its retain flag kept); true when `topic` was one.
   */
  #relay(topics: Topics, topic: string, payload: Buffer, retained: boolean): boolean {
    const embedded = this.#embedded;
    const rest = topic.startsWith(`${topics.base}/`) ? topic.slice(topics.base.length + 1).split('/') : [];
    const device = rest.length === 2 || (rest.length === 3 && rest[1] === 'event');
    if (!embedded || !device || rest[0] === 'bridge' || rest[1] === 'set') return false;
    void embedded.broker.publish(topic, payload.toString('utf8'), retained);
    return true;
  }

  /** `shared`: other hubs publish into this broker too (the external one, with a cluster). */
  #side<B extends EmbeddedBroker | ExternalBroker>(broker: B, topics: Topics, canary: string | null, log: MqttLogger, clusterId: string | undefined, shared: boolean): Side<B> {
    const o = this.#opts;
    const now = o.now ?? Date.now;
    const timers = o.timers ?? systemTimers;
    const settings = {
      baseTopic: topics.base,
      discoveryPrefix: topics.discoveryPrefix,
      discoveryMode: o.discoveryMode ?? MQTT_DEFAULTS.discoveryMode,
      discovery: o.discovery ?? true,
      rediscoverDelayMs: o.rediscoverDelayMs ?? MQTT_DEFAULTS.rediscoverDelayMs,
      stateHeartbeatMs: o.stateHeartbeatMs ?? MQTT_DEFAULTS.stateHeartbeatMs,
      healthIntervalMs: o.healthIntervalMs ?? MQTT_DEFAULTS.healthIntervalMs,
    };
    const mirror = new HubMirror({
      facade: o.facade,
      publisher: broker,
      topics,
      discovery: settings.discovery,
      discoveryOptions: { mode: settings.discoveryMode, hubVersion: o.hubVersion ?? '', hubUrl: o.hubUrl ?? null },
      logger: log,
      rediscoverDelayMs: settings.rediscoverDelayMs,
      rediscoverRate: o.rediscoverRate ?? MQTT_DEFAULTS.rediscoverRate,
      stateHeartbeatMs: settings.stateHeartbeatMs,
      stateMinIntervalMs: o.stateMinIntervalMs ?? MQTT_DEFAULTS.stateMinIntervalMs,
      canary,
      cluster: clusterId !== undefined && o.cluster ? { hubId: clusterId, othersAlive: () => o.cluster!.othersAlive(), caretaker: () => o.cluster!.caretaker(), shared } : undefined,
      now,
      timers,
      random: o.random ?? Math.random,
    });
    const publish = (m: Parameters<HubMirror['publish']>[0]) => mirror.publish(m);
    const admin = o.admin ?? null;
    const status = new BridgeStatus({
      facade: o.facade,
      health: admin ? () => admin.health() : null,
      topics,
      publish,
      settings,
      commit: o.commit ?? null,
      hubId: o.hubId ?? 'hearth',
      ackLatency: o.ackLatency ?? null,
      healthIntervalMs: settings.healthIntervalMs,
      now,
      timers,
    });
    const updates = new UpdateMirror({ facade: o.facade, topics, publish, logger: log, cares: (id) => mirror.cares(id) });
    return { broker, mirror, status, api: new BridgeApi({ facade: o.facade, admin, topics, publish, logger: log }), topics, updates };
  }

  /** An upgrade the HTTPS front routed to MQTT over WebSocket; 503 without a running embedded broker. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const broker = this.#embedded?.broker;
    if (!broker) return refuseUpgrade(socket, 'HUB_ERR_SHUTDOWN', 'the MQTT broker is not running');
    broker.handleUpgrade(req, socket, head);
  }

  /** The embedded broker's refusals by reason (empty without it). */
  refusals(): ReadonlyMap<string, number> {
    return this.#embedded?.broker.refusals() ?? new Map();
  }

  /** Bound addresses of the embedded listeners, and the external connection state. */
  addresses(): MqttBridgeAddresses {
    const embedded = this.#embedded?.broker.addresses() ?? { tcp: null, tls: null, ws: null };
    return { ...embedded, externalConnected: this.#external ? this.#external.broker.isConnected() : null };
  }

  /** Clients connected to the embedded broker, messages it routed, and stream readings dropped for slow consumers. */
  stats(): { clients: number; messages: number; streamDropped: number } {
    const streamDropped = (this.#embedded?.mirror.streamDropped ?? 0) + (this.#external?.mirror.streamDropped ?? 0);
    return { ...(this.#embedded?.broker.stats() ?? { clients: 0, messages: 0 }), streamDropped };
  }

  /** Resolves when every publish queued so far went out (tests and benchmarks wait on it). */
  async idle(): Promise<void> {
    await Promise.all([this.#embedded?.mirror.idle(), this.#external?.mirror.idle()]);
  }

  /** Connections made to the external broker so far (0 without one). */
  externalConnectCount(): number {
    return this.#external?.broker.connectCount() ?? 0;
  }
}

/** Hands an inbound message to its part: a command, a bridge request, or Home Assistant's birth. */
function route(side: Side<unknown>, topic: string, payload: Buffer, source: string, sender: RequestSender): void {
  const parsed = side.topics.parse(topic);
  if (!parsed) return;
  switch (parsed.kind) {
    case 'set':
      return void side.mirror.handleCommand(parsed.device, parsed.command, payload, source);
    case 'bridgeRequest':
      return void side.api.handle(parsed.verb, payload, sender, source);
    case 'updateInstall':
      return side.updates.install(parsed.device, payload, source);
    case 'discoveryStatus':
      if (payload.toString('utf8').trim() === 'online') void side.mirror.rediscover();
  }
}

function portOption(value: number | null | false | undefined, fallback: number | null): number | null {
  if (value === undefined) return fallback;
  if (value === null || value === false) return null;
  return value;
}

/** The shared-subscription group of the hubs on one base topic: its characters fit for a share name (no / + #). */
function shareGroup(base: string): string {
  return `hearth-${base.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}
