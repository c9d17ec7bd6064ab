import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { UPGRADE_STATUSES, type UpgradeErrorCode } from '../../protocol/error-codes.js';

export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/**
 * The one 'upgrade' listener of the hub's HTTPS server: hands each WebSocket upgrade to the endpoint that owns
 * its path (devices, /mqtt) and answers 404 for any other path, so no socket is left hanging.
 */
export class UpgradeRouter {
  readonly #routes: { matches: (path: string) => boolean; handler: UpgradeHandler }[] = [];
  #refusing = false;

  route(matches: (path: string) => boolean, handler: UpgradeHandler): void {
    this.#routes.push({ matches, handler });
  }

  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => socket.destroy());
      if (this.#refusing) return refuseUpgrade(socket, UPGRADE_STATUSES.HUB_ERR_SHUTDOWN, { error: 'HUB_ERR_SHUTDOWN', message: 'hub is shutting down' });
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const route = this.#routes.find((r) => r.matches(path));
      if (!route) return refuseUpgrade(socket, UPGRADE_STATUSES.HUB_ERR_NOT_FOUND, { error: 'HUB_ERR_NOT_FOUND', message: `no WebSocket endpoint at ${path}` });
      route.handler(req, socket, head);
    });
  }

  /** From now on every upgrade is answered 503 (shutdown). */
  refuseAll(): void {
    this.#refusing = true;
  }
}

const REASONS: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 503: 'Service Unavailable' };

/** Answers an upgrade request with an HTTP error and a JSON body, then closes the socket: no WebSocket is created. */
export function refuseUpgrade(socket: Duplex, status: number, body: { error: UpgradeErrorCode; message: string }): void {
  const text = JSON.stringify(body);
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.once('finish', () => socket.destroy());
  socket.end(
      `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\n` +
        'Connection: close\r\nContent-Type: application/json\r\n' +
        `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
  );
}
