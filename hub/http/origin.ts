import type { IncomingMessage } from 'node:http';

/**
 * True when a WebSocket upgrade may proceed: requests without an Origin header (devices, non-browser
 * clients) pass; a browser's Origin must be this hub's own `https://<Host>` (no cross-site WebSocket hijacking).
 */
export function originAllowed(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  const host = req.headers.host;
  if (typeof host !== 'string' || host === '') return false;
  let given: URL;
  let own: URL;
  try {
    given = new URL(origin);
    own = new URL(`https://${host}`);
  } catch {
    return false;
  }
  // URL normalizes case and drops the default port (443), as browsers do when they serialize Origin.
  return given.protocol === 'https:' && given.origin === own.origin && `${given.protocol}//${given.host}` === origin.toLowerCase();
}
