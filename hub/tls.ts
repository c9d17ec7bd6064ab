import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from './logger.js';
import { loadTlsTicketKeys } from './transport/tls-ticket-keys.js';

export interface TlsMaterial {
  key: string;
  cert: string;
  certPath: string;
  /** SHA-256 fingerprint of the certificate, colon-separated hex, as browsers show it. */
  fingerprint: string;
  /** True when this call generated the certificate. */
  generated: boolean;
  /** Session-ticket keys that survive restarts (hub/transport/tls-ticket-keys.ts). */
  ticketKeys: Buffer;
}

/**
 * Loads the configured certificate pair, or the one generated earlier into `dataDir/tls`, or generates a
 * self-signed one there (subjectAltName: localhost, 127.0.0.1, ::1 and the host name).
 */
export async function loadOrCreateTls(opts: { dataDir: string; certFile?: string | null; keyFile?: string | null; log?: Logger }): Promise<TlsMaterial> {
  if (opts.certFile || opts.keyFile) {
    if (!opts.certFile || !opts.keyFile) throw new Error('tls: set both tls.cert and tls.key, or neither');
    const cert = readFileSync(opts.certFile, 'utf8');
    const key = readFileSync(opts.keyFile, 'utf8');
    return { key, cert, certPath: opts.certFile, fingerprint: fingerprintOf(cert), generated: false, ticketKeys: loadTlsTicketKeys(opts.dataDir) };
  }
  const dir = join(opts.dataDir, 'tls');
  const certPath = join(dir, 'hub-cert.pem');
  const keyPath = join(dir, 'hub-key.pem');
  if (existsSync(certPath) && existsSync(keyPath)) {
    const cert = readFileSync(certPath, 'utf8');
    return { key: readFileSync(keyPath, 'utf8'), cert, certPath, fingerprint: fingerprintOf(cert), generated: false, ticketKeys: loadTlsTicketKeys(opts.dataDir) };
  }
  const host = hostname();
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(notBefore.getTime() + 5 * 365 * 24 * 3600_000);
  // Imported only when a certificate is made: loading it (and its X.509 library) cost a restart 0.3 s.
  const { default: selfsigned } = await import('selfsigned');
  const pems = await selfsigned.generate([{ name: 'commonName', value: `Hearth hub ${host}` }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: notBefore,
    notAfterDate: notAfter,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 2, value: host },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(keyPath, pems.private, { mode: 0o600 });
  writeFileSync(certPath, pems.cert, { mode: 0o644 });
  const fingerprint = fingerprintOf(pems.cert);
  opts.log?.info({ path: certPath, sha256: fingerprint }, 'generated a self-signed TLS certificate');
  return { key: pems.private, cert: pems.cert, certPath, fingerprint, generated: true, ticketKeys: loadTlsTicketKeys(opts.dataDir) };
}

function fingerprintOf(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}
