import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { refuseUpgrade } from '../http/refuse-upgrade.js';
import type { DeviceFacade } from '../facade.js';
import { ROLES, type Role } from '../auth/user-store.js';
import { Acl } from './acl.js';
import { EmbeddedBroker, type EmbeddedBrokerAddresses, type MqttAuthenticator } from './embedded-broker.js';
import { ExternalBroker } from './external-broker.js';
import type { DiscoveryMode } from './discovery.js';
import { HubMirror } from './hub-mirror.js';
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
}

export interface MqttBridgeOptions {
  facade: DeviceFacade;
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
  /** Largest WebSocket message; default 256 KiB. */
  wsMaxPayload?: number;
  /** Let clients without a user name in; default false. */
  allowAnonymous?: boolean;
  /** Role of anonymous clients when allowed; default 'viewer'. */
  anonymousRole?: Role;
  /** Roles that may connect; default all. A known user with another role gets CONNACK 5. */
  allowedRoles?: readonly Role[];
  /** Also (or only, with embedded: false) publish into an external broker. */
  external?: MqttExternalOptions | null;
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
export class MqttBridge {
  readonly #opts: MqttBridgeOptions;
  #embedded: { broker: EmbeddedBroker; mirror: HubMirror } | null = null;
  #external: { broker: ExternalBroker; mirror: HubMirror } | null = null;

  constructor(opts: MqttBridgeOptions) {
    this.#opts = opts;
  }

  /** Starts the embedded broker and publishes the retained tree; starts connecting to the external broker. */
  async start(): Promise<void> {
    const o = this.#opts;
    const log = o.logger ?? SILENT_LOGGER;
    const prefix = o.discoveryPrefix ?? MQTT_DEFAULTS.discoveryPrefix;
    const discovery = o.discovery ?? true;
    const discoveryOptions = { mode: o.discoveryMode ?? 'device', hubVersion: o.hubVersion ?? '', hubUrl: o.hubUrl ?? null };
    // A function: the hub loads its certificate after building the bridge, before starting it.
    const tls = typeof o.tls === 'function' ? o.tls() : (o.tls ?? null);
    const tlsPort = portOption(o.tlsPort, tls ? MQTT_DEFAULTS.tlsPort : null);
    if (tlsPort !== null && !tls) throw new Error('HUB_ERR_CONFIG: mqtt tlsPort is set but no TLS key/certificate was given');
    const allowedRoles = o.allowedRoles ?? ROLES;

    try {
      if (o.embedded ?? true) {
        const topics = new Topics(o.baseTopic ?? MQTT_DEFAULTS.baseTopic, prefix);
        let mirror: HubMirror | null = null;
        const broker = new EmbeddedBroker({
          host: o.host ?? MQTT_DEFAULTS.host,
          tcpPort: portOption(o.tcpPort, MQTT_DEFAULTS.tcpPort),
          tlsPort,
          tls,
          websocket: o.websocket ?? false,
          wsPath: o.wsPath ?? MQTT_DEFAULTS.wsPath,
          wsMaxPayload: o.wsMaxPayload ?? MQTT_DEFAULTS.wsMaxPayload,
          auth: o.auth,
          allowAnonymous: o.allowAnonymous ?? false,
          anonymousRole: o.anonymousRole ?? 'viewer',
          allowedRoles,
          acl: new Acl(topics),
          logger: log,
          onClientPublish: (topic, payload, source) => mirror && route(mirror, topics, topic, payload, source),
        });
        mirror = new HubMirror({ facade: o.facade, publisher: broker, topics, discovery, discoveryOptions, logger: log });
        this.#embedded = { broker, mirror };
        await broker.start();
        mirror.attach();
        await mirror.publishAll();
      }
      if (o.external) {
        const x = o.external;
        const topics = new Topics(x.baseTopic ?? o.baseTopic ?? MQTT_DEFAULTS.baseTopic, prefix);
        let mirror: HubMirror | null = null;
        const broker = new ExternalBroker({
          url: x.url,
          ...(x.username !== undefined ? { username: x.username } : {}),
          ...(x.password !== undefined ? { password: x.password } : {}),
          ...(x.ca !== undefined ? { ca: x.ca } : {}),
          ...(x.rejectUnauthorized !== undefined ? { rejectUnauthorized: x.rejectUnauthorized } : {}),
          clientId: x.clientId ?? `hearth-${topics.base.replace(/[^A-Za-z0-9_-]/g, '_')}`,
          will: { topic: topics.bridgeState(), payload: 'offline' },
          subscribeFilter: topics.setFilter(),
          reconnectPeriodMs: x.reconnectPeriodMs ?? MQTT_DEFAULTS.reconnectPeriodMs,
          connectTimeoutMs: x.connectTimeoutMs ?? MQTT_DEFAULTS.connectTimeoutMs,
          logger: log,
          onConnect: () => void mirror?.publishAll(),
          onMessage: (topic, payload, source) => mirror && route(mirror, topics, topic, payload, source),
        });
        mirror = new HubMirror({ facade: o.facade, publisher: broker, topics, discovery, discoveryOptions, logger: log });
        this.#external = { broker, mirror };
        mirror.attach();
        await broker.start();
      }
      const a = this.addresses();
      log.info({ tcp: a.tcp, tls: a.tls, ws: a.ws, external: o.external?.url ?? null }, 'MQTT bridge started');
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
    for (const { mirror } of parts) mirror.detach();
    await Promise.all(parts.map(({ mirror }) => mirror.publishOffline()));
    for (const { broker } of parts) await broker.stop();
  }

  /** An upgrade the HTTPS front routed to MQTT over WebSocket; 503 without a running embedded broker. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const broker = this.#embedded?.broker;
    if (!broker) return refuseUpgrade(socket, 'HUB_ERR_SHUTDOWN', 'the MQTT broker is not running');
    broker.handleUpgrade(req, socket, head);
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

function route(mirror: HubMirror, topics: Topics, topic: string, payload: Buffer, source: string): void {
  const parsed = topics.parse(topic);
  if (parsed) void mirror.handleCommand(parsed.device, parsed.command, payload, source);
}

function portOption(value: number | null | false | undefined, fallback: number | null): number | null {
  if (value === undefined) return fallback;
  if (value === null || value === false) return null;
  return value;
}
