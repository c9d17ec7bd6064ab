import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { startHub } from '../../test/support/hub-harness.js';
import { loadTlsTicketKeys, TICKET_KEYS_BYTES, TICKET_KEYS_MAX_AGE_MS } from './tls-ticket-keys.js';

const temp = () => mkdtempSync(join(tmpdir(), 'hearth-tickets-'));

describe('loadTlsTicketKeys', () => {
  it('makes 48 random bytes in dataDir/tls/ticket-keys (0600) once, and reads them back after', () => {
    const dir = temp();
    const first = loadTlsTicketKeys(dir);
    expect(first).toHaveLength(TICKET_KEYS_BYTES);
    const file = join(dir, 'tls', 'ticket-keys');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file).equals(first)).toBe(true);
    expect(loadTlsTicketKeys(dir).equals(first)).toBe(true);
    expect(loadTlsTicketKeys(temp()).equals(first)).toBe(false);
  });

  it('replaces keys older than the maximum age, and a damaged file', () => {
    const dir = temp();
    const first = loadTlsTicketKeys(dir);
    const file = join(dir, 'tls', 'ticket-keys');
    const old = (Date.now() - TICKET_KEYS_MAX_AGE_MS - 60_000) / 1000;
    utimesSync(file, old, old);
    const rotated = loadTlsTicketKeys(dir);
    expect(rotated.equals(first)).toBe(false);
    writeFileSync(file, 'short');
    const remade = loadTlsTicketKeys(dir);
    expect(remade).toHaveLength(TICKET_KEYS_BYTES);
    expect(remade.equals(rotated)).toBe(false);
  });
});

/**
 * Connects to 127.0.0.1:port offering `session`; resolves with whether it resumed and the first ticket the hub
 * sent (TLS 1.3 tickets follow the handshake; a resumed handshake gets none, the old ticket stays usable).
 */
function handshake(port: number, session?: Buffer): Promise<{ resumed: boolean; ticket: Buffer | undefined }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: '', rejectUnauthorized: false, ...(session ? { session } : {}) });
    socket.once('secureConnect', () => {
      if (socket.isSessionReused()) {
        socket.end();
        return resolve({ resumed: true, ticket: undefined });
      }
      socket.once('session', (ticket: Buffer) => {
        socket.end();
        resolve({ resumed: false, ticket });
      });
    });
    socket.on('error', reject);
  });
}

describe('TLS session resumption across a hub restart [FP-2.6]', () => {
  it('a ticket from before the restart resumes after it (same data directory)', async () => {
    const dataDir = temp();
    const before = await startHub({ dataDir });
    const first = await handshake(before.hub.port);
    expect(first.resumed).toBe(false);
    await before.stop();
    const after = await startHub({ dataDir });
    try {
      expect((await handshake(after.hub.port, first.ticket!)).resumed).toBe(true);
    } finally {
      await after.stop();
    }
    // Another data directory has other keys: the same ticket does a full handshake there.
    const other = await startHub();
    try {
      expect((await handshake(other.hub.port, first.ticket!)).resumed).toBe(false);
    } finally {
      await other.stop();
    }
  });
});
