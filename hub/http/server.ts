import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { DEVICE_PATH_PREFIX } from '../../protocol/constants.js';
import { fileURLToPath } from 'node:url';
import type { Authorizer } from '../auth/authorizer.js';
import type { Role } from '../auth/user-store.js';
import { andThen, isThenable } from '../storage/maybe-promise.js';
import type { MaybePromise } from '../storage/store-contract.js';
import type { HubFacade } from '../facade.js';
import type { Logger } from '../logger.js';
import type { UpgradeErrorCode } from '../../protocol/error-codes.js';
import { RateLimitedLog } from '../observability/rate-limited-log.js';
import { systemTimers } from '../timers.js';
import { AcceptPacer } from './accept-pacer.js';
import { createApi } from './api.js';
import type { ObservabilitySources } from './observability-api.js';
import { ConnectionGuard, dropReserveOf, type RefusalReason } from './connection-guard.js';
import { originAllowed } from './origin.js';
import { BUSY_RETRY_AFTER_S, onUpgradeRefused, refuseUpgrade } from './refuse-upgrade.js';
import { bearerToken, requestPath } from './request.js';
import { sendJson, sendStorageFault } from './respond.js';
import { createSessionApi, SESSION_PATH } from './session-api.js';
import { createStaticFiles } from './static-files.js';
import { HEALTH_PATHS, serveHealth, type Readiness } from './health-server.js';

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** The path MQTT over WebSocket is served at. */
export const MQTT_WS_PATH = '/mqtt';

/** The built dashboard: dist/dashboard beside dist/hub (this file runs from dist/hub/http or, under jest, hub/http/). */
const DASHBOARD_DIR = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../dashboard/' : '../../dist/dashboard/', import.meta.url));

export type { Readiness } from './health-server.js';

/** The crowd limits of the HTTPS port (`http.*` keys, docs/operations.md "Crowds"). */
export interface HttpLimits {
  handshakeTimeoutMs: number;
  headersTimeoutMs: number;
  maxConnectionsPerAddress: number;
  capLoopback: boolean;
  /** 0: the process's soft open-file limit. */
  maxOpenFiles: number;
  /** Spare descriptors below the ceiling from which new requests and upgrades get 503 (http.fdReserve). */
  fdReserve: number;
  /** http.busyOpenFilesPercent (older configurations): 100 leaves fdReserve alone. */
  busyOpenFilesPercent?: number;
}

/** What the front counts for /metrics (HubMetrics). */
export interface FrontCounters {
  connectionRefused(reason: RefusalReason): void;
  upgradeRefused(code: UpgradeErrorCode): void;
  unauthorized(): void;
}

/**
 * Bounds of the TLS handshakes the HTTPS port runs at once (accept pacing, hub/http/accept-pacer.ts, which
 * moves between them by the event loop's lag): the floor keeps a slow crowd moving, the ceiling is a storm's.
 */
const MIN_HANDSHAKES = 32;
const MAX_HANDSHAKES = 512;
/**
 * Connections accepted and waiting for a handshake slot; past it a new one is closed before TLS. A whole
 * fleet (19,000 devices under a 20,000 descriptor limit) fits: the descriptor guard bounds the rest.
 */
const MAX_QUEUED = 20_000;
/**
 * Longest wait for a slot, in handshake timeouts: a connection served in arrival order beats one closed and
 * retried after a backoff (it would queue again, behind later ones), but past this its device has likely given up.
 */
const MAX_WAIT_HANDSHAKES = 4;
/** listen() backlog: a restarted hub meets its whole fleet at once; an overflowing accept queue drops SYNs. */
const LISTEN_BACKLOG = 4096;

/** Paths answered even while descriptors run short: monitoring must see the condition. */
const ALWAYS_SERVED = new Set(['/healthz', '/readyz', '/metrics']);

export interface HttpFrontOptions {
  host: string;
  port: number;
  /** The key and certificate, read at start() (they are loaded by then); ticket keys that outlive a restart, if any. */
  tls: () => { key: string | Buffer; cert: string | Buffer; ticketKeys?: Buffer };
  /** Every credential check (bearer tokens of the API and /metrics, sign-in). */
  auth: Authorizer;
  /** What the API answers from. */
  facade: HubFacade;
  /** `/metrics`: Prometheus text; `isAdmin` tells whether the request carries admin credentials. */
  metrics: (req: IncomingMessage, res: ServerResponse, isAdmin: boolean) => void;
  ready: () => Readiness;
  /** Upgrades to `/v1/devices/<id>`. */
  devices: UpgradeHandler;
  /** Upgrades to `/mqtt` after the Origin check; null: MQTT over WebSocket is off (404). */
  mqtt: UpgradeHandler | null;
  /** Default: the built dashboard in dist/dashboard. */
  dashboardDir?: string;
  /** The hub page's samples and the admin's log lines (GET /api/hub/samples, /api/hub/logs); absent: 404. */
  observability?: ObservabilitySources;
  limits: HttpLimits;
  counters: FrontCounters;
  now: () => number;
  log: Logger;
}

/**
 * The HTTPS port: one request listener and one upgrade listener that own every route, so no two listeners'
 * order matters. Unknown upgrade paths get 404 and, once stopping, every upgrade gets 503: no socket hangs.
 */
export class HttpFront {
  readonly #opts: HttpFrontOptions;
  readonly #session: RequestHandler;
  readonly #api: RequestHandler;
  readonly #dashboard: RequestHandler;
  readonly #guard: ConnectionGuard;
  readonly #pacer: AcceptPacer;
  readonly #warn: RateLimitedLog;
  #server: Server | undefined;
  #refusing = false;
  #closed: Promise<void> = Promise.resolve();

  constructor(opts: HttpFrontOptions) {
    this.#opts = opts;
    const l = opts.limits;
    this.#warn = new RateLimitedLog({ log: opts.log, now: opts.now });
    this.#guard = new ConnectionGuard({
      ...{ maxPerAddress: l.maxConnectionsPerAddress, capLoopback: l.capLoopback, idleMs: l.headersTimeoutMs },
      ...{ maxOpenFiles: l.maxOpenFiles, busyReserve: l.fdReserve, busyPercent: l.busyOpenFilesPercent, dropReserve: dropReserveOf(l.fdReserve) },
      ...{ now: opts.now, log: opts.log, warn: this.#warn, onRefused: (reason) => opts.counters.connectionRefused(reason) },
    });
    this.#pacer = new AcceptPacer({
      ...{ minHandshakes: MIN_HANDSHAKES, maxHandshakes: MAX_HANDSHAKES, maxQueued: MAX_QUEUED, maxWaitMs: MAX_WAIT_HANDSHAKES * l.handshakeTimeoutMs },
      ...{ now: opts.now, timers: systemTimers },
      onRefused: (reason) => opts.counters.connectionRefused(reason),
    });
    this.#session = createSessionApi({ auth: opts.auth, now: opts.now });
    this.#api = createApi({
      ...{ facade: opts.facade, now: opts.now, users: opts.auth, observability: opts.observability },
      authorize: (req) => {
        const token = bearerToken(req);
        return token === null ? null : opts.auth.authorizeBearer(token);
      },
    });
    this.#dashboard = createStaticFiles({ root: opts.dashboardDir ?? DASHBOARD_DIR });
  }

  /** Listens on host:port and serves; rejects when the port cannot be bound. */
  async start(): Promise<void> {
    if (!this.#server) await this.listen();
    this.#pacer.release();
  }

  /**
   * Binds host:port but serves no one until start(): connections are accepted and wait, unread, in the
   * accept pacer's queue. The hub binds first at start-up so that its fleet's reconnects queue instead of
   * being refused while storage, MQTT and the gateway start (each refusal doubles a device's backoff).
   */
  async listen(): Promise<void> {
    const o = this.#opts;
    this.#pacer.hold();
    const { key, cert, ticketKeys } = o.tls();
    const l = o.limits;
    // headersTimeout bounds later requests of a kept-alive connection; the guard's idle timer bounds the first.
    const http = { headersTimeout: l.headersTimeoutMs, requestTimeout: Math.max(l.headersTimeoutMs, 300_000), connectionsCheckingInterval: Math.min(1000, l.headersTimeoutMs) };
    const server = createServer({ key, cert, ...(ticketKeys ? { ticketKeys } : {}), handshakeTimeout: l.handshakeTimeoutMs, ...http }, (req, res) => this.#request(req, res));
    this.#guard.start();
    // The TLS server wraps each socket in its own 'connection' listener; taking it over lets the guard refuse
    // a socket over a cap before any TLS work and the pacer decide when its handshake starts.
    const wrapTls = server.listeners('connection') as ((socket: Socket) => void)[];
    server.removeAllListeners('connection');
    server.on('connection', (socket: Socket) => {
      if (!this.#guard.admit(socket)) return;
      this.#pacer.offer(socket, (s) => {
        for (const wrap of wrapTls) wrap.call(server, s);
      });
    });
    server.on('secureConnection', (socket: Socket) => {
      this.#pacer.handshakeDone(socket);
      this.#guard.watchIdle(socket);
    });
    server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      if (err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') {
        this.#guard.handshakeTimedOut((socket as Socket).remoteAddress);
        this.#pacer.handshakeTimedOut();
      }
      socket.destroy();
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(req, socket, head));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: o.port, host: o.host, backlog: LISTEN_BACKLOG }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#server = server;
    o.log.debug({ host: o.host, port: this.port }, 'HTTPS listening');
  }

  /** Refuses further upgrades, stops listening and closes the HTTP connections still open. */
  async stop(): Promise<void> {
    this.stopAccepting();
    await this.#closed;
  }

  /**
   * Refuses further upgrades, stops listening and closes the HTTP connections, without waiting for the
   * WebSocket connections (devices, /mqtt) that their parts close: stop() resolves once those closed too.
   */
  stopAccepting(): void {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    this.#refusing = true;
    this.#pacer.stop();
    this.#closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
  }

  /** The port bound (after start()). */
  get port(): number {
    return (this.#server?.address() as AddressInfo | null)?.port ?? this.#opts.port;
  }

  /** Descriptors open now and the ceiling guarded (after start()); null where the limit is unknown. */
  get openFiles(): { open: number; ceiling: number } | null {
    const ceiling = this.#guard.ceiling;
    return ceiling === Infinity ? null : { open: this.#guard.openFiles, ceiling };
  }

  /** https://host:port, with `localhost` for a wildcard host. */
  get url(): string {
    const host = this.#opts.host === '0.0.0.0' || this.#opts.host === '::' ? 'localhost' : this.#opts.host;
    return `https://${host}:${this.port}`;
  }

  #request(req: IncomingMessage, res: ServerResponse): void {
    this.#guard.served(req.socket);
    const path = requestPath(req.url);
    res.once('finish', () => {
      if (res.statusCode !== 401) return;
      this.#opts.counters.unauthorized();
      this.#warn.warn('http_401', { path, address: req.socket.remoteAddress }, 'HTTP request refused with 401');
    });
    if (!ALWAYS_SERVED.has(path) && this.#guard.busy()) {
      res.setHeader('connection', 'close');
      res.setHeader('retry-after', String(BUSY_RETRY_AFTER_S));
      return sendJson(res, 503, { error: 'HUB_ERR_BUSY', message: 'the hub is near its open-file limit; retry later' });
    }
    const run = (handler: RequestHandler) => {
      Promise.resolve(handler(req, res)).catch((err: Error) => {
        // A session looked up on a database out of reach: 503 with the cause, not a 500 (nor an error logged per request).
        if (!res.headersSent && sendStorageFault(res, err)) return;
        this.#opts.log.error({ path, err: err.message }, 'HTTP handler failed');
        if (!res.headersSent) sendJson(res, 500, { error: 'HUB_ERR_INTERNAL', message: 'internal error' });
        else res.destroy();
      });
    };
    if (path === SESSION_PATH) return run(this.#session);
    if (path === '/metrics') {
      const role = this.#role(req);
      // A shared session (db.url) may need the database; the admin token and SQLite answer at once.
      if (!isThenable(role)) return this.#opts.metrics(req, res, role === 'admin');
      return run(async () => this.#opts.metrics(req, res, (await role) === 'admin'));
    }
    if (HEALTH_PATHS.has(path)) return serveHealth(path, res, this.#opts.ready);
    if (path.startsWith('/api/')) return run(this.#api);
    run(this.#dashboard);
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    this.#guard.served(socket);
    const path = requestPath(req.url);
    onUpgradeRefused(socket, (code) => {
      this.#opts.counters.upgradeRefused(code);
      this.#warn.warn(`upgrade_${code}`, { code, path, address: req.socket.remoteAddress }, 'WebSocket upgrade refused');
    });
    if (this.#refusing) return refuseUpgrade(socket, 'HUB_ERR_SHUTDOWN', 'hub is shutting down');
    if (this.#guard.busy()) return refuseUpgrade(socket, 'HUB_ERR_BUSY', 'the hub is near its open-file limit; retry later');
    const o = this.#opts;
    try {
      if (path.startsWith(DEVICE_PATH_PREFIX)) return o.devices(req, socket, head);
      if (path === MQTT_WS_PATH && o.mqtt) {
        if (!originAllowed(req)) {
          return refuseUpgrade(socket, 'HUB_ERR_ORIGIN', `WebSocket from origin ${req.headers.origin} refused: open the dashboard from this hub`);
        }
        return o.mqtt(req, socket, head);
      }
    } catch (err) {
      // One malformed upgrade must not take the listener (and every other client) down with it.
      this.#opts.log.warn({ path, err: (err as Error).message }, 'WebSocket upgrade failed');
      return refuseUpgrade(socket, 'HUB_ERR_BAD_REQUEST', 'malformed WebSocket upgrade');
    }
    refuseUpgrade(socket, 'HUB_ERR_NOT_FOUND', `no WebSocket endpoint at ${path}`);
  }

  /** The role of the request's bearer token (admin token or dashboard session), or null. */
  #role(req: IncomingMessage): MaybePromise<Role | null> {
    const token = bearerToken(req);
    return token === null ? null : andThen(this.#opts.auth.authorizeBearer(token), (p) => p?.role ?? null);
  }
}
