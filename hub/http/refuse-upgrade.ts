import type { Duplex } from 'node:stream';
import { UPGRADE_STATUSES, type UpgradeErrorCode } from '../../protocol/error-codes.js';

/** Who hears of a refusal on a socket (the HTTP front, to count and log it); per socket, so hubs sharing a process never mix. */
const observers = new WeakMap<Duplex, (code: UpgradeErrorCode) => void>();

/** Calls `listener` with the code if an upgrade on `socket` is refused (by whichever part refuses it). */
export function onUpgradeRefused(socket: Duplex, listener: (code: UpgradeErrorCode) => void): void {
  observers.set(socket, listener);
}

const REASONS: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 503: 'Service Unavailable' };

/** Seconds a 503 HUB_ERR_BUSY asks a client to wait (Retry-After): descriptors free up as connections close. */
export const BUSY_RETRY_AFTER_S = 5;

/**
 * Answers an upgrade request with the HTTP status the error registry gives `code` and a JSON body
 * {error, message}, then closes the socket: no WebSocket is created. HUB_ERR_BUSY carries Retry-After [FP-10.7].
 */
export function refuseUpgrade(socket: Duplex, code: UpgradeErrorCode, message: string): void {
  observers.get(socket)?.(code);
  observers.delete(socket);
  const status = UPGRADE_STATUSES[code];
  const text = JSON.stringify({ error: code, message });
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\n` +
      'Connection: close\r\nContent-Type: application/json\r\n' +
      (code === 'HUB_ERR_BUSY' ? `Retry-After: ${BUSY_RETRY_AFTER_S}\r\n` : '') +
      `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
  );
}
