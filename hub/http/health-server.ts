import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../logger.js';
import { requestPath } from './request.js';
import { sendJson } from './respond.js';

/** What /readyz reports: the database takes writes and each configured MQTT listener is bound. */
export interface Readiness {
  storage: boolean;
  broker: boolean;
}

/** The paths of the health probes, on the HTTPS port and on the plain health port alike. */
export const HEALTH_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz']);

/** Answers GET /healthz (alive) or /readyz (storage and broker) on `res`; the one place their answers are decided. */
export function serveHealth(path: string, res: ServerResponse, ready: () => Readiness): void {
  if (path === '/healthz') return sendJson(res, 200, { status: 'alive' });
  const { storage, broker } = ready();
  const ok = storage && broker;
  sendJson(res, ok ? 200 : 503, { status: ok ? 'ready' : 'not ready', storage: storage ? 'ok' : 'failing', broker: broker ? 'ok' : 'down' });
}

export interface HealthServerOptions {
  host: string;
  port: number;
  ready: () => Readiness;
  log: Logger;
}

/**
 * The plain-HTTP health port (`http.healthPort`): /healthz and /readyz without TLS and outside the HTTPS
 * port's accept pacing, so a load balancer's or systemd's probe is answered at once while a whole fleet's
 * TLS handshakes queue on the HTTPS port (a probe there waited 48 s behind 10,000 of them). Nothing else is
 * served here: every other path is 404, every method but GET and HEAD 405.
 */
export class HealthServer {
  readonly #o: HealthServerOptions;
  #server: Server | undefined;

  constructor(opts: HealthServerOptions) {
    this.#o = opts;
  }

  /** Listens on host:port; rejects when the port cannot be bound. */
  async start(): Promise<void> {
    // Short timeouts: a probe sends its request at once, and an idle socket here must not hold a descriptor.
    const server = createServer({ headersTimeout: 5000, requestTimeout: 5000, keepAliveTimeout: 5000 }, (req, res) => this.#request(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: this.#o.port, host: this.#o.host }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#server = server;
    this.#o.log.info({ host: this.#o.host, port: this.port }, 'health port listening (plain HTTP: /healthz, /readyz)');
  }

  /** Stops listening and closes the connections still open. */
  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  /** The port bound (after start()). */
  get port(): number {
    return (this.#server?.address() as AddressInfo | null)?.port ?? this.#o.port;
  }

  #request(req: IncomingMessage, res: ServerResponse): void {
    const path = requestPath(req.url);
    if (!HEALTH_PATHS.has(path)) return sendJson(res, 404, { error: 'HUB_ERR_NOT_FOUND', message: 'the health port serves /healthz and /readyz only' });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return sendJson(res, 405, { error: 'HUB_ERR_METHOD_NOT_ALLOWED', message: `${req.method} is not allowed on ${path}` });
    }
    serveHealth(path, res, this.#o.ready);
  }
}
