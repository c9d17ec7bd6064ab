import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Bytes of a TLS ticket key set: 16 name, 16 HMAC, 16 AES (Node's tls `ticketKeys`). */
export const TICKET_KEYS_BYTES = 48;
/** Keys older than this are replaced at start: a stolen key file then opens at most a week of tickets. */
export const TICKET_KEYS_MAX_AGE_MS = 7 * 24 * 3600_000;

/**
 * The hub's TLS session-ticket keys, kept in `dataDir/tls/ticket-keys` (0600, beside the private key) so a
 * ticket issued before a restart still resumes after it: a fleet reconnecting then skips the certificate
 * and its signature on both ends [FP-2.6]. Made anew when missing, damaged or older than TICKET_KEYS_MAX_AGE_MS.
 */
export function loadTlsTicketKeys(dataDir: string, now: () => number = Date.now): Buffer {
  const dir = join(dataDir, 'tls');
  const file = join(dir, 'ticket-keys');
  try {
    const keys = readFileSync(file);
    if (keys.length === TICKET_KEYS_BYTES && now() - statSync(file).mtimeMs < TICKET_KEYS_MAX_AGE_MS) return keys;
  } catch {
    // Missing (first start) or unreadable: make new ones; resumption starts over, nothing else is lost.
  }
  const keys = randomBytes(TICKET_KEYS_BYTES);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(file, keys, { mode: 0o600 });
  return keys;
}
