import type { IncomingMessage } from 'node:http';
import type net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type tls from 'node:tls';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import websocketStream from 'websocket-stream';
import type { Authorizer } from '../auth/authorizer.js';
import type { Role } from '../auth/user-store.js';
import type { Acl, AclSubject } from './acl.js';
import { BrokerGuard, DEFAULT_BROKER_LIMITS, GUARD_LOG_CODES, sourceAddress, type BrokerLimits, type GuessThrottle } from './broker-guard.js';
import type { MqttLogger } from './logger.js';
import type { Publisher } from './publisher.js';
import type { RetainedStore } from './retained-store.js';
import { SessionOwners } from './session-owners.js';
import { refuseUpgrade } from '../http/refuse-upgrade.js';

/** Checks MQTT credentials: the hub's one credential check (hub/auth Authorizer). */
export type MqttAuthenticator = Pick<Authorizer, 'authorize'> & GuessThrottle;

export interface EmbeddedBrokerOptions {
  host: string;
  /** null: no plain TCP listener. */
  tcpPort: number | null;
  /** null: no TLS listener. */
  tlsPort: number | null;
  tls: { key: string | Buffer; cert: string | Buffer } | null;
  /** Serve MQTT over WebSocket through handleUpgrade (the HTTPS front routes `wsPath` there). */
  websocket: boolean;
  /** The path the front serves it at, for addresses(). */
  wsPath: string;
  /** Largest WebSocket message accepted. */
  wsMaxPayload: number;
  auth: MqttAuthenticator;
  allowAnonymous: boolean;
  anonymousRole: Role;
  /** Roles that may connect at all; a known user with another role gets CONNACK 5. */
  allowedRoles: readonly Role[];
  acl: Acl;
  /** Keeps retained messages outside the hub's namespace across restarts; null: memory only. */
  retained: RetainedStore | null;
  logger: MqttLogger;
  /** Limits against hostile clients; default DEFAULT_BROKER_LIMITS. */
  limits?: Partial<BrokerLimits>;
  /** A client's publish that passed the ACL (commands, bridge requests, HA status), with the client's role. */
  onClientPublish: (topic: string, payload: Buffer, source: string, role: Role) => void;
}

export interface EmbeddedBrokerAddresses {
  tcp: AddressInfo | null;
  tls: AddressInfo | null;
  /** The WebSocket path, when MQTT over WebSocket is attached. */
  ws: string | null;
}

/** aedes de-duplication keys of the hub's own publishes (see EmbeddedBroker.publish). */
const HUB_RETAINED_ID = 'hearth-hub-retained';
const HUB_LIVE_ID = 'hearth-hub-live';

/** The hub's undelivered publishes beyond which publish() resolves on delivery rather than on hand-over. */
const MAX_HUB_IN_FLIGHT = 5000;
/**
 * Deliveries aedes runs at once (its default 100). Each completes a turn of the event loop later (aedes
 * completes writes with setImmediate), so this is also the most messages routed per turn.
 */
const AEDES_CONCURRENCY = 5000;

/** An authenticated client: who it is for the ACL. */
type Session = AclSubject;

// CONNACK return codes of MQTT 3.1.1 (aedes's AuthErrorCode enum is type-only); aedes sends an MQTT 5
// client the matching reason code: 3 -> 0x88, 4 -> 0x86 (bad user name or password), 5 -> 0x87 (not authorized).
const CONNACK_SERVER_UNAVAILABLE = 3;
const CONNACK_BAD_USERNAME_OR_PASSWORD = 4;
const CONNACK_NOT_AUTHORIZED = 5;

/** Stable codes in the broker's log lines (tabled in docs/mqtt.md). */
export const MQTT_LOG_CODES = [
  'HUB_ERR_MQTT_CLIENT_ID',
  'HUB_ERR_MQTT_BAD_CREDENTIALS',
  'HUB_ERR_MQTT_NOT_AUTHORIZED',
  'HUB_ERR_MQTT_AUTH_FAILED',
  'HUB_ERR_MQTT_SESSION_TAKEN',
  'HUB_ERR_MQTT_PUBLISH_DENIED',
  'HUB_ERR_MQTT_SUBSCRIBE_DENIED',
  ...GUARD_LOG_CODES,
] as const;
type MqttLogCode = (typeof MQTT_LOG_CODES)[number];

/**
 * The embedded aedes broker: MQTT over TCP, TLS and WebSocket (on the hub's HTTPS server), with users,
 * roles and the ACL. The hub publishes through broker.publish() directly, past the ACL.
 */
export class EmbeddedBroker implements Publisher {
  readonly #opts: EmbeddedBrokerOptions;
  #broker: Aedes | null = null;
  /** The hub's publishes handed to aedes and not yet delivered. */
  #inFlight = 0;
  /** Messages routed by the broker (the hub's and clients'), for /metrics. */
  #published = 0;
  #tcp: net.Server | null = null;
  #tls: tls.Server | null = null;
  #wss: { handleUpgrade: Function; emit: Function; close: (cb?: () => void) => void } | null = null;
  readonly #sessions = new WeakMap<Client, Session>();
  readonly #owners = new SessionOwners<Client>();
  readonly #guard: BrokerGuard;

  constructor(opts: EmbeddedBrokerOptions) {
    this.#opts = opts;
    this.#guard = new BrokerGuard({ limits: { ...DEFAULT_BROKER_LIMITS, ...opts.limits }, auth: opts.auth, logger: opts.logger });
  }

  /** Creates the broker and opens the listeners; rejects (having closed what it opened) when one cannot bind. */
  async start(): Promise<void> {
    const o = this.#opts;
    if (o.tlsPort !== null && !o.tls) throw new Error('HUB_ERR_CONFIG: the MQTT TLS listener needs a key and a certificate');
    const broker = await Aedes.createBroker({
      ...this.#guard.aedesOptions(),
      concurrency: AEDES_CONCURRENCY,
      preConnect: (client, packet, done) => {
        if (!this.#guard.preConnect(client, packet, done)) return;
        // aedes answers CONNACK 2 itself [MQTT-3.1.3-8]; MQTT 5 assigns an id instead [MQTT-3.1.3-6].
        if (!packet.clientId && !packet.clean && (packet.protocolVersion ?? 4) < 5) {
          this.#refuse('HUB_ERR_MQTT_CLIENT_ID', client, undefined, { user: packet.username ?? null }, 'an empty client id needs clean session');
        }
        done(null, true);
      },
      authenticate: (client, username, password, done) => this.#authenticate(client, username, password, done),
      authorizePublish: (client, packet, done) => {
        const session = client ? this.#sessions.get(client) : undefined;
        // A will's Will Delay Interval is a CONNECT property; aedes would copy it into the PUBLISH it delivers,
        // which MQTT 5 clients reject as a malformed packet (MQTT 5 §3.3.2.3: no such PUBLISH property).
        if (packet.properties && 'willDelayInterval' in packet.properties) delete (packet.properties as { willDelayInterval?: number }).willDelayInterval;
        if (!client || !session || !o.acl.canPublish(session, packet.topic)) {
          this.#refuse('HUB_ERR_MQTT_PUBLISH_DENIED', client, session, { topic: packet.topic }, 'MQTT publish refused');
          done(new Error(`HUB_ERR_MQTT_PUBLISH_DENIED: ${session?.role ?? 'this client'} may not publish to ${packet.topic}`));
          return;
        }
        // A retained command would be replayed to the hub on every restart; other topics keep their flag.
        if (packet.retain && o.acl.isInbound(packet.topic)) packet.retain = false;
        done(null);
      },
      authorizeSubscribe: (client, sub, done) => this.#guard.authorizeSubscribe(client, sub, done, (client, sub, done) => {
        const session = this.#sessions.get(client);
        if (!session || !o.acl.canSubscribe(session, sub.topic)) {
          this.#refuse('HUB_ERR_MQTT_SUBSCRIBE_DENIED', client, session, { filter: sub.topic }, 'MQTT subscription refused');
          done(null, null); // SUBACK 0x80 for this filter (MQTT 5: 0x87, not authorized)
          return;
        }
        done(null, sub);
      }),
      // Only an ACL file refuses inside a granted filter (a deny line); without one delivery is unchecked.
      ...(o.acl.checksDelivery
        ? {
            authorizeForward: (client: Client, packet: Parameters<NonNullable<Aedes['authorizeForward']>>[1]) => {
              const session = this.#sessions.get(client);
              return session && o.acl.canRead(session, packet.topic) ? packet : null;
            },
          }
        : {}),
    });
    this.#guard.attach(broker);
    this.#broker = broker;
    broker.on('publish', (packet, client) => {
      this.#published += 1;
      if (!client) return;
      const session = this.#sessions.get(client);
      // authorizePublish let it through only with a session, so the role is known here.
      if (session) o.onClientPublish(packet.topic, packet.payload as Buffer, `mqtt:${session.user ?? client.id}`, session.role);
      if (packet.retain && o.retained && !packet.topic.startsWith('$') && !o.acl.isHubTopic(packet.topic)) {
        o.retained.record(packet.topic, packet.payload as Buffer, packet.qos, packet.properties as Record<string, unknown> | undefined);
      }
    });
    broker.on('clientDisconnect', (client) => this.#owners.release(client.id, client));
    broker.on('sessionExpired', (client) => this.#owners.expire(client.id));
    broker.on('clientError', (client, err) => o.logger.debug({ clientId: client.id, err: err.message }, 'MQTT client error'));
    broker.on('connectionError', (client, err) => o.logger.debug({ clientId: client.id, err: err.message }, 'MQTT connection error'));

    try {
      // Other integrations' retained messages from the last run, in place before any client can subscribe.
      for (const m of o.retained?.load() ?? []) {
        await new Promise<void>((resolve, reject) =>
          broker.publish({ cmd: 'publish', topic: m.topic, payload: m.payload, qos: m.qos, retain: true, dup: false, ...(m.properties ? { properties: m.properties } : {}) }, (err) => (err ? reject(err) : resolve())),
        );
      }
      if (o.tcpPort !== null) this.#tcp = await listen(this.#guard.tcpServer(broker), o.tcpPort, o.host);
      if (o.tlsPort !== null && o.tls) this.#tls = await listen(this.#guard.tlsServer(broker, { key: o.tls.key, cert: o.tls.cert }), o.tlsPort, o.host);
      if (o.websocket) this.#openWebSocket(broker);
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** Closes the listeners and the broker (disconnecting every client); the HTTP(S) server stays open. */
  async stop(): Promise<void> {
    const broker = this.#broker;
    this.#broker = null;
    if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
    await this.#opts.retained?.flush();
    const wss = this.#wss;
    this.#wss = null;
    await Promise.all([
      close(this.#tcp),
      close(this.#tls),
      wss ? new Promise<void>((resolve) => wss.close(() => resolve())) : undefined,
    ]);
    this.#tcp = null;
    this.#tls = null;
  }

  /** Connections and packets refused by the guard and the ACL so far, by reason (hearth_mqtt_refused_total). */
  refusals(): ReadonlyMap<string, number> {
    return this.#guard.refusals();
  }

  /** Connected clients and messages routed so far. */
  stats(): { clients: number; messages: number } {
    return { clients: this.#broker?.connectedClients ?? 0, messages: this.#published };
  }

  /** Bound addresses of the listeners that are open. */
  addresses(): EmbeddedBrokerAddresses {
    return {
      tcp: (this.#tcp?.address() as AddressInfo | null) ?? null,
      tls: (this.#tls?.address() as AddressInfo | null) ?? null,
      ws: this.#wss ? this.#opts.wsPath : null,
    };
  }

  /**
   * Publishes as the hub (no ACL). aedes gives every packet a counter when handed over and each client drops
   * a packet whose counter is below the last it was sent from the same broker id (its de-duplication for
   * clustered brokers); a retained packet reaches its subscribers a microtask later (after storing it), so a
   * non-retained one handed over after it would overtake it and the retained one was dropped. Retained and
   * non-retained publishes of the hub therefore carry a broker id each: both streams keep their own order,
   * and neither waits for the other.
   */
  publish(topic: string, payload: string, retain: boolean): Promise<void> {
    const broker = this.#broker;
    if (!broker) return Promise.resolve();
    const packet = { cmd: 'publish', topic, payload: Buffer.from(payload), qos: 0, retain, dup: false, brokerId: retain ? HUB_RETAINED_ID : HUB_LIVE_ID } as const;
    // Handed over is enough (aedes routes in the order handed over): waiting for each delivery cost the
    // mirror's serial queue a turn of the event loop per message. Past MAX_HUB_IN_FLIGHT undelivered ones
    // the caller waits for its own, so a broker that falls behind slows the mirror (which then coalesces).
    const wait = this.#inFlight >= MAX_HUB_IN_FLIGHT;
    this.#inFlight += 1;
    return new Promise((resolve, reject) => {
      broker.publish(packet as Parameters<Aedes['publish']>[0], (err) => {
        this.#inFlight -= 1;
        if (err) reject(err);
        else if (wait) resolve();
      });
      if (!wait) resolve();
    });
  }

  #authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (error: AuthenticateError | null, success: boolean | null) => void,
  ): void {
    const o = this.#opts;
    const refuse = (code: MqttLogCode, returnCode: number, message: string) => {
      this.#refuse(code, client, undefined, { user: username ?? null }, message);
      done(Object.assign(new Error(`${code}: ${message}`), { returnCode }) as AuthenticateError, null);
    };
    o.acl.refresh();
    // The id's session goes only to its owner; the owner keeps it (issue #11 §2). MQTT 5 gets 0x87.
    const accept = (user: string | null, role: Role) => {
      if (!this.#owners.mayTake(client.id, user)) {
        return refuse('HUB_ERR_MQTT_SESSION_TAKEN', CONNACK_NOT_AUTHORIZED, 'this client id belongs to another user');
      }
      this.#owners.take(client.id, user, client, !client.clean);
      this.#sessions.set(client, { user, clientId: client.id, role });
      o.logger.debug({ clientId: client.id, user, role }, 'MQTT client authenticated');
      done(null, true);
    };
    if (username === undefined || username === '') {
      if (!o.allowAnonymous) return refuse('HUB_ERR_MQTT_NOT_AUTHORIZED', CONNACK_NOT_AUTHORIZED, 'anonymous clients are not allowed');
      return accept(null, o.anonymousRole);
    }
    o.auth.authorize({ kind: 'password', username, password: password ? password.toString('utf8') : '', source: sourceAddress(client) }).then(
      (principal) => {
        const role = principal?.role ?? null;
        if (role === null) return refuse('HUB_ERR_MQTT_BAD_CREDENTIALS', CONNACK_BAD_USERNAME_OR_PASSWORD, 'bad user name or password');
        if (!o.allowedRoles.includes(role)) {
          return refuse('HUB_ERR_MQTT_NOT_AUTHORIZED', CONNACK_NOT_AUTHORIZED, `role ${role} may not use MQTT`);
        }
        accept(username, role);
      },
      (err: unknown) => {
        o.logger.error({ err }, 'user verification failed');
        refuse('HUB_ERR_MQTT_AUTH_FAILED', CONNACK_SERVER_UNAVAILABLE, 'cannot check credentials now');
      },
    );
  }

  #refuse(code: MqttLogCode, client: Client | null, session: Session | undefined, detail: object, message: string): void {
    const fields = { clientId: client?.id ?? null, user: session?.user ?? null, role: session?.role ?? null, ...detail };
    // Bounded per code, and per code and signed-in user (a bounded set) for the ACL's refusals.
    this.#guard.refuse(code, code.slice('HUB_ERR_MQTT_'.length).toLowerCase(), fields, message, session ? `${code}:${session.user ?? ''}` : code);
  }

  /**
   * Takes one WebSocket upgrade to the MQTT endpoint (the HTTPS front has routed it and checked its Origin);
   * answered 503 while the broker is not running.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const wss = this.#wss;
    if (!wss) return refuseUpgrade(socket, 'HUB_ERR_SHUTDOWN', 'the MQTT broker is not running');
    wss.handleUpgrade(req, socket, head, (ws: unknown) => wss.emit('connection', ws, req));
  }

  /** MQTT over WebSocket: a noServer ws server; the front hands it the upgrades (handleUpgrade). */
  #openWebSocket(broker: Aedes): void {
    const o = this.#opts;
    // websocket-stream's typings predate ws 8; its Server is a ws WebSocketServer emitting 'stream'.
    const wss = (websocketStream as any).createServer({ noServer: true, maxPayload: this.#guard.wsMaxPayload(o.wsMaxPayload) });
    wss.on('stream', (stream: Duplex, req: IncomingMessage) => this.#guard.handle(broker, stream, req));
    wss.on('error', (err: Error) => o.logger.warn({ err: err.message }, 'MQTT WebSocket error'));
    this.#wss = wss;
  }
}

function listen<S extends net.Server>(server: S, port: number, host: string): Promise<S> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server);
    });
  });
}

function close(server: net.Server | null): Promise<void> {
  if (!server) return Promise.resolve();
  return new Promise((resolve) => server.close(() => resolve()));
}
