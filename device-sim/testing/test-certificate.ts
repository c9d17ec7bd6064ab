// Test support: the TLS certificate of the simulator's test hubs.
import selfsigned from 'selfsigned';

let certificate: Promise<{ cert: string; key: string }> | null = null;

/** One self-signed certificate per test process (EC: fast to make), valid for 127.0.0.1 and localhost. */
export function testCertificate(): Promise<{ cert: string; key: string }> {
  certificate ??= selfsigned
    .generate([{ name: 'commonName', value: 'hearth-test-hub' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }],
    })
    .then((p) => ({ cert: p.cert, key: p.private }));
  return certificate;
}
