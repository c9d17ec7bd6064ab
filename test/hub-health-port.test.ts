import { describe, expect, it } from '@jest/globals';
import http from 'node:http';
import net from 'node:net';
import { freePort } from './support/hub-process.js';
import { startHub } from './support/hub-harness.js';

function get(port: number, path: string, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the plain-HTTP health port (http.healthPort)', () => {
  it('answers /healthz and /readyz without TLS, even while TLS connections wait on the HTTPS port, and nothing else', async () => {
    const healthPort = await freePort();
    const h = await startHub({ overrides: { 'http.healthPort': healthPort } });
    // Silent TCP connections on the HTTPS port: TLS handshakes that never start or end (a storm's queue).
    const silent: net.Socket[] = [];
    try {
      for (let i = 0; i < 50; i++) {
        const s = net.connect(h.hub.port, '127.0.0.1');
        s.on('error', () => undefined);
        silent.push(s);
      }
      expect(await get(healthPort, '/healthz')).toEqual({ status: 200, body: JSON.stringify({ status: 'alive' }) });
      const ready = await get(healthPort, '/readyz');
      expect({ status: ready.status, body: JSON.parse(ready.body) }).toEqual({ status: 200, body: { status: 'ready', storage: 'ok', broker: 'ok' } });
      expect((await get(healthPort, '/api/hub')).status).toBe(404);
      expect((await get(healthPort, '/metrics')).status).toBe(404);
      expect((await get(healthPort, '/readyz', 'POST')).status).toBe(405);
    } finally {
      for (const s of silent) s.destroy();
      await h.stop();
    }
    await expect(get(healthPort, '/healthz')).rejects.toThrow(); // closed with the hub
  });

  it('is off by default', async () => {
    const h = await startHub();
    try {
      expect(h.hub.config['http.healthPort']).toBeNull();
    } finally {
      await h.stop();
    }
  });
});
