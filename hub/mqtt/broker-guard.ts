import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { Aedes, Client, ConnectPacket, Subscription } from 'aedes';
import { coalesceWrites } from './write-coalescer.js';
import { clientBacklog } from './client-backlog.js';
import { ConnectionGuard, DEFAULT_FD_RESERVE } from '../http/connection-guard.js';
import { RateLimitedLog } from '../observability/rate-limited-log.js';
import type { MqttLogger } from './logger.js';
import { stringProblem, validTopicName } from './mqtt-strings.js';
import { patchPersistence, type SubscribePersistence } from './persistence-patch.js';
import { SubscriptionLimits, type SubscriptionRefusal } from './subscription-limits.js';

/** The embedded broker's limits against hostile clients (`mqtt.*` keys, docs/mqtt.md "Limits and hostile clients"). */
export interface BrokerLimits {
  /** Largest packet after CONNECT is accepted, bytes on the wire; advertised in the v5 CONNACK. */
  maxPacketBytes: number;
  /** Bytes a client may send before its CONNECT is accepted. */
  preConnectMaxBytes: number;
  /** Time from accept (TCP) or the socket's start (TLS handshake, WebSocket) to a complete CONNECT. */
  connectTimeoutMs: number;
  maxSubscriptionsPerClient: number;
  maxFiltersPerSubscribe: number;
  /** Sockets one remote address may hold on the TCP and TLS listeners together. */
  maxConnectionsPerAddress: number;
  /** Unsent bytes one client may have queued before it is disconnected (client-backlog.ts). */
  maxClientBacklogBytes: number;
}

export const DEFAULT_BROKER_LIMITS: BrokerLimits = {
  maxPacketBytes: 256 * 1024,
  preConnectMaxBytes: 16 * 1024,
  connectTimeoutMs: 10_000,
  maxSubscriptionsPerClient: 1000,
  // Home Assistant sends at most 500 filters per SUBSCRIBE (MAX_SUBSCRIBES_PER_CALL).
  maxFiltersPerSubscribe: 500,
  maxConnectionsPerAddress: 100,
  maxClientBacklogBytes: 8 * 1024 * 1024,
};

/** Stable codes of the guard's log lines (tabled in docs/mqtt.md). */
export const GUARD_LOG_CODES = [
  'HUB_ERR_MQTT_THROTTLED',
  'HUB_ERR_MQTT_PACKET_TOO_LARGE',
  'HUB_ERR_MQTT_CONNECT_TIMEOUT',
  'HUB_ERR_MQTT_MALFORMED',
  'HUB_ERR_MQTT_SUBSCRIPTION_LIMIT',
  'HUB_ERR_MQTT_SLOW_CLIENT',
] as const;

/** What the guard asks of the hub's credential check: how long a user/address pair is throttled. */
export interface GuessThrottle {
  passwordWait?(username: string, source: string): number;
}

export interface BrokerGuardOptions {
  limits: BrokerLimits;
  auth: GuessThrottle;
  logger: MqttLogger;
  now?: () => number;
}

// CONNACKs the guard writes itself (aedes maps an authenticate error only to 3.1.1 codes 2-5): v5 0x9F
// "Connection rate exceeded", 3.1.1 5 "not authorized" [MQTT-3.2.2-6].
const CONNACK_RATE_EXCEEDED_V5 = Buffer.from([0x20, 0x03, 0x00, 0x9f, 0x00]);
const CONNACK_NOT_AUTHORIZED_V4 = Buffer.from([0x20, 0x02, 0x00, 0x05]);

/** aedes 2.0.0-beta.1 internals the guard hooks (pinned exactly; embedded-broker tests fail if they move). */
interface ParserInternals {
  parse(buf: Buffer): number;
  _parseString(): string | null;
  _emitError(err: Error): void;
  _pos: number;
  _list: { slice(start: number, end: number): Buffer };
  packet: { length: number };
  prependListener(event: 'packet', fn: (packet: { cmd: string }) => void): void;
}
interface GuardedClient {
  connected: boolean;
  conn: Duplex & { remoteAddress?: string };
  req?: IncomingMessage;
  _parser?: ParserInternals;
  rejectPacketTooLarge?(size: number): void;
  waitForDrain?: unknown;
}

/** A client's source address: its socket's, or the WebSocket upgrade's. */
export function sourceAddress(client: Client): string {
  const c = client as unknown as GuardedClient;
  return c.conn.remoteAddress ?? c.req?.socket.remoteAddress ?? 'unknown';
}

/** Bytes an MQTT packet of `remaining` bytes after its fixed header occupies on the wire. */
function wireSize(remaining: number): number {
  return 1 + (remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4) + remaining;
}

/**
 * The embedded broker's defences against hostile clients, kept apart from its users and ACL: per-address
 * caps and handshake/CONNECT timeouts on the listeners, byte limits on the packet being parsed (before and
 * after CONNECT), password throttling at CONNECT, well-formed strings [MQTT-1.5.3], and subscription caps.
 * A client too slow to read its messages is closed rather than let it stall the others. Every refusal is counted by reason and logged at most once per reason per 10 s.
 */
export class BrokerGuard {
  readonly #o: BrokerGuardOptions;
  readonly #warn: RateLimitedLog;
  readonly #sockets: ConnectionGuard;
  readonly #subs: SubscriptionLimits;
  readonly #refused = new Map<string, number>();

  constructor(opts: BrokerGuardOptions) {
    this.#o = opts;
    const now = opts.now ?? Date.now;
    this.#warn = new RateLimitedLog({ log: opts.logger, now });
    this.#sockets = new ConnectionGuard({
      ...{ maxPerAddress: opts.limits.maxConnectionsPerAddress, capLoopback: true, idleMs: opts.limits.connectTimeoutMs },
      ...{ maxOpenFiles: 0, busyReserve: 0, dropReserve: DEFAULT_FD_RESERVE, now, log: opts.logger, warn: this.#warn },
      onRefused: (reason) => this.#count(reason),
    });
    this.#subs = new SubscriptionLimits({ maxPerClient: opts.limits.maxSubscriptionsPerClient, maxPerSubscribe: opts.limits.maxFiltersPerSubscribe });
  }

  /** Options for Aedes.createBroker: the CONNECT timeout and the Maximum Packet Size the v5 CONNACK advertises. */
  aedesOptions(): { connectTimeout: number; maximumPacketSize: number } {
    return { connectTimeout: this.#o.limits.connectTimeoutMs, maximumPacketSize: this.#o.limits.maxPacketBytes };
  }

  /** Hooks the created broker: its persistence's SUBSCRIBE paths, and its error events for the counters. */
  attach(broker: Aedes): void {
    this.#sockets.start();
    const persistence = (broker as unknown as { persistence: SubscribePersistence }).persistence;
    patchPersistence(persistence, { keep: (sub) => this.#subs.keep(sub), maxRestored: this.#o.limits.maxSubscriptionsPerClient });
    const onError = (client: Client, err: Error) => {
      if (err.message === 'connect did not arrive in time') {
        this.refuse('HUB_ERR_MQTT_CONNECT_TIMEOUT', 'connect_timeout', { address: sourceAddress(client) }, 'MQTT client closed: no CONNECT in time');
      }
    };
    broker.on('connectionError', onError);
  }

  /**
   * A plain TCP listener: sockets over the per-address cap are destroyed at accept. Nagle's algorithm is off on
   * every MQTT socket (TCP and TLS): coalesceWrites already sends a turn's packets together, and with it on, a
   * subscriber of a light stream waited for its own delayed ACK, ~33 ms per message at 1,000 readings/s.
   */
  tcpServer(broker: Aedes): net.Server {
    return net.createServer({ noDelay: true }, (socket) => {
      if (this.#sockets.admit(socket)) this.handle(broker, socket);
    });
  }

  /** A TLS listener: the cap applies before the handshake, which must end within the CONNECT timeout. */
  tlsServer(broker: Aedes, pems: { key: string | Buffer; cert: string | Buffer }): tls.Server {
    const server = tls.createServer({ ...pems, handshakeTimeout: this.#o.limits.connectTimeoutMs, noDelay: true }, (socket) => this.handle(broker, socket));
    server.prependListener('connection', (socket: net.Socket) => void this.#sockets.admit(socket));
    server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: tls.TLSSocket) => {
      if (err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') this.#sockets.handshakeTimedOut(socket.remoteAddress);
      socket.destroy();
    });
    return server;
  }

  /** The largest WebSocket message of /mqtt: one packet of the largest size. */
  wsMaxPayload(configured: number): number {
    return Math.min(configured, this.#o.limits.maxPacketBytes);
  }

  /** Hands a connection to aedes and hooks its parser: byte limits and string checks [MQTT-1.5.3]. */
  handle(broker: Aedes, conn: Duplex, req?: IncomingMessage): void {
    coalesceWrites(conn);
    broker.handle(conn, req);
    const client = (conn as Duplex & { client?: GuardedClient }).client;
    const parser = client?._parser;
    if (!client || !parser || typeof client.rejectPacketTooLarge !== 'function' || typeof client.waitForDrain !== 'function') {
      // Without its hooks the guard cannot bound memory: refuse rather than run unguarded.
      this.#o.logger.error({}, 'MQTT guard cannot hook this aedes version; connection closed');
      conn.destroy();
      return;
    }
    this.#hookParser(client, parser);
    clientBacklog(client, this.#o.limits.maxClientBacklogBytes, (backlogBytes) => {
      const fields = { clientId: (client as unknown as Client).id ?? null, address: sourceAddress(client as unknown as Client), backlogBytes, limit: this.#o.limits.maxClientBacklogBytes };
      this.refuse('HUB_ERR_MQTT_SLOW_CLIENT', 'slow_client', fields, 'MQTT client closed: it does not read what it subscribed to');
    });
  }

  /**
   * At CONNECT, before the password is checked: refuses (and answers) a throttled user or address and a
   * will topic that is no topic name. Returns false when it has called `done` with the refusal.
   */
  preConnect(client: Client, packet: ConnectPacket, done: (error: Error | null, success: boolean) => void): boolean {
    const will = packet.will?.topic;
    if (will !== undefined && !validTopicName(will)) {
      this.refuse('HUB_ERR_MQTT_MALFORMED', 'malformed', { address: sourceAddress(client), will }, 'MQTT client closed: will topic is no topic name');
      done(new Error('HUB_ERR_MQTT_MALFORMED: the will topic must be a topic name without wildcards [MQTT-3.1.3-11]'), false);
      return false;
    }
    const username = packet.username;
    const address = sourceAddress(client);
    const wait = username ? (this.#o.auth.passwordWait?.(username, address) ?? 0) : 0;
    if (wait <= 0) return true;
    this.refuse('HUB_ERR_MQTT_THROTTLED', 'throttled', { address, user: username, retryInMs: wait }, 'MQTT CONNECT refused: too many failed passwords');
    const connack = packet.protocolVersion === 5 ? CONNACK_RATE_EXCEEDED_V5 : CONNACK_NOT_AUTHORIZED_V4;
    const err = new Error(`HUB_ERR_MQTT_THROTTLED: too many failed passwords; try again in ${Math.ceil(wait / 1000)} s`);
    // aedes closes the connection on the error: only once the CONNACK is out.
    client.conn.write(connack, () => done(err, false));
    return false;
  }

  /** Wraps the ACL's subscribe check with the filter rules [MQTT-4.7.1] and the subscription caps. */
  authorizeSubscribe(
    client: Client,
    sub: Subscription,
    done: (error: Error | null, subscription?: Subscription | null) => void,
    acl: (client: Client, sub: Subscription, done: (error: Error | null, subscription?: Subscription | null) => void) => void,
  ): void {
    const early = this.#subs.precheck(sub);
    if (early === 'filter_invalid') {
      this.refuse('HUB_ERR_MQTT_MALFORMED', 'malformed', { clientId: client.id, filter: sub.topic }, 'MQTT client closed: ill-formed topic filter');
      // As aedes answers the malformed filters it detects itself: the connection is closed.
      return done(new Error(`HUB_ERR_MQTT_MALFORMED: ${JSON.stringify(sub.topic)} is no topic filter [MQTT-4.7.1]`));
    }
    if (early) return this.#refuseFilter(client, sub, early, done);
    acl(client, sub, (err, granted) => {
      if (!granted) this.#subs.refused(sub);
      if (err || !granted) return done(err, granted);
      const late = this.#subs.grant(client, granted);
      if (late) return this.#refuseFilter(client, granted, late, done);
      done(null, granted);
    });
  }

  /** Refusals so far by reason, for /metrics. */
  refusals(): ReadonlyMap<string, number> {
    return this.#refused;
  }

  /**
   * Counts a refusal and logs it at a bounded rate: one line per `cause` (default the code) per 10 s, the
   * next carrying `suppressed`. Causes must come from a bounded set (codes, or codes per known user).
   */
  refuse(code: string, reason: string, fields: Record<string, unknown>, msg: string, cause: string = code): void {
    this.#count(reason);
    this.#warn.warn(cause, { code, ...fields }, msg);
  }

  #count(reason: string): void {
    this.#refused.set(reason, (this.#refused.get(reason) ?? 0) + 1);
  }

  #refuseFilter(client: Client, sub: Subscription, why: SubscriptionRefusal, done: (error: Error | null, subscription?: Subscription | null) => void): void {
    const { maxSubscriptionsPerClient: perClient, maxFiltersPerSubscribe: perPacket } = this.#o.limits;
    const limit = why === 'per_client' ? { maxSubscriptionsPerClient: perClient } : { maxFiltersPerSubscribe: perPacket };
    this.#subs.refused(sub);
    this.refuse('HUB_ERR_MQTT_SUBSCRIPTION_LIMIT', 'subscription_limit', { clientId: client.id, filter: sub.topic, ...limit }, 'MQTT subscription refused: over the limit');
    done(null, null); // SUBACK 0x80 (v5 0x87) for this filter; the others are answered on their own
  }

  /**
   * Bounds what the parser holds: before CONNECT is accepted every byte read counts against
   * preConnectMaxBytes; after it, the packet being parsed may not declare more than maxPacketBytes. A
   * 200 MiB CONNECT is refused at its fixed header, not buffered. Strings are checked as they are decoded.
   */
  #hookParser(client: GuardedClient, parser: ParserInternals): void {
    const { preConnectMaxBytes, maxPacketBytes } = this.#o.limits;
    const guard = this;
    const parse = parser.parse;
    const parseString = parser._parseString;
    let before = 0;
    const tooLarge = (size: number, limit: number) => {
      const early = !client.connected;
      const fields = { address: sourceAddress(client as unknown as Client), size, limit };
      guard.refuse('HUB_ERR_MQTT_PACKET_TOO_LARGE', early ? 'pre_connect_too_large' : 'packet_too_large', fields, early ? 'MQTT client closed: too many bytes before CONNECT' : 'MQTT client closed: packet too large');
      client.rejectPacketTooLarge!(size); // v5 after CONNECT: DISCONNECT 0x95; otherwise the socket closes
    };
    parser.parse = function (this: ParserInternals, buf: Buffer): number {
      if (!client.connected) {
        before += buf.length;
        if (before > preConnectMaxBytes) {
          tooLarge(before, preConnectMaxBytes);
          return 0;
        }
      }
      const left = parse.call(this, buf);
      const declared = this.packet.length;
      if (declared > 0) {
        const limit = client.connected ? maxPacketBytes : preConnectMaxBytes;
        const size = wireSize(declared);
        if (size > limit) tooLarge(size, limit);
      }
      return left;
    };
    parser._parseString = function (this: ParserInternals): string | null {
      const start = this._pos + 2; // after the two length bytes [MQTT-1.5.3]
      const s = parseString.call(this);
      if (s === null) return s;
      const problem = stringProblem(s, this._list, start, this._pos);
      if (problem) {
        const what = problem === 'nul' ? 'U+0000 [MQTT-1.5.3-2]' : 'ill-formed UTF-8 [MQTT-1.5.3-1]';
        guard.refuse('HUB_ERR_MQTT_MALFORMED', 'malformed', { address: sourceAddress(client as unknown as Client), problem }, 'MQTT client closed: malformed string');
        // The parser stops at its error and aedes closes the connection, as the spec requires.
        this._emitError(new Error(`HUB_ERR_MQTT_MALFORMED: a string with ${what}`));
      }
      return s;
    };
    parser.prependListener('packet', (packet) => guard.#subs.onPacket(client, packet));
  }
}
