import { afterEach, describe, expect, it } from '@jest/globals';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { countOpenFiles } from '../hub/observability/open-files.js';
import type { ConfigKey } from '../hub/config.js';
import { eventually } from './support/eventually.js';
import { hello } from './support/fixtures.js';
import { call } from './support/http.js';
import { startHub } from './support/hub-harness.js';
import { RawDevice, type Refusal } from './support/raw-device.js';
import { sqliteNow } from '../hub/testing/sqlite-now.js';

// Issue "Faults", section 4 (crowds): each crowd fault against a real hub on 127.0.0.1. The HTTPS port closes
// silent sockets after short timeouts, caps sockets per address, refuses with 503 HUB_ERR_BUSY as descriptors
// run short, and counts and logs (at a bounded rate) every refusal, while other clients are served [FP-10.7].

const stops: (() => Promise<void>)[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const stop of stops.splice(0)) await stop();
});

async function hub(overrides: Partial<Record<ConfigKey, unknown>> = {}) {
  const h = await startHub({ overrides });
  stops.push(h.stop);
  const base = `https://127.0.0.1:${h.hub.port}`;
  const get = (path: string, token?: string) => call(base, h.hub.tls.cert, 'GET', path, token ? { token } : {});
  const metric = async (line: string) => {
    const text = String((await get('/metrics')).body);
    const m = new RegExp(`^${line.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  };
  const logged = (msg: string) => h.logs.filter((l) => (JSON.parse(l) as { msg: string }).msg === msg);
  return { ...h, base, get, metric, logged };
}

/** A TCP socket to the hub that has connected and sends nothing; `closed` resolves when the hub closes it. */
function silentSocket(port: number, localAddress = '127.0.0.1'): Promise<{ socket: Socket; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: '127.0.0.1', port, localAddress });
    sockets.push(socket);
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('error', () => undefined); // a reset by the hub is one of the expected ends
    socket.once('connect', () => resolve({ socket, closed }));
    socket.once('error', reject);
  });
}

/** One GET over a connection from `localAddress`; resolves with the status and the body's text. */
function getFrom(localAddress: string, h: { hub: { port: number; tls: { cert: string } } }, path: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const tcp = tcpConnect({ host: '127.0.0.1', port: h.hub.port, localAddress });
    const s = tlsConnect({ socket: tcp, ca: h.hub.tls.cert, servername: 'localhost' }, () => {
      s.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`);
    });
    let text = '';
    s.on('data', (c: Buffer) => (text += c.toString()));
    s.on('end', () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]), body: text.slice(text.indexOf('\r\n\r\n') + 4) }));
    s.on('error', reject);
  });
}

/** Provisions a device, greets and sends one TELEMETRY; resolves once it is acknowledged. */
async function deviceGetsAck(h: Awaited<ReturnType<typeof hub>>, id: string): Promise<RawDevice> {
  const { token } = sqliteNow(h.hub.registry.provision(id, id, 'thermostat', Date.now()));
  const { device } = await RawDevice.greet(h.wssUrl, id, token, hello());
  device.send({ type: 'telemetry', seq: 1, ts: Date.now(), readings: [{ metric: 1, value: { type: 'float', value: 20 } }] });
  await device.ackFor(1);
  return device;
}

describe('crowds on the HTTPS port', () => {
  it('[FP-10.7] closes sockets that never send a ClientHello after http.handshakeTimeoutMs, while a device connects and gets ACKs', async () => {
    const h = await hub({ 'http.handshakeTimeoutMs': 300 });
    const silent = await Promise.all(Array.from({ length: 5 }, () => silentSocket(h.hub.port)));
    const device = await deviceGetsAck(h, 'crowd-1');
    await Promise.all(silent.map((s) => s.closed));
    expect(silent.every((s) => s.socket.destroyed)).toBe(true);
    expect(await h.metric('hearth_connections_refused_total{reason="handshake_timeout"}')).toBe(5);
    // five timeouts, one warning line (the others counted in the next line's `suppressed`)
    expect(h.logged('connection closed: TLS handshake not finished in time')).toHaveLength(1);
    await device.close();
  });

  it('[FP-10.7] closes a TLS connection that sends no request within http.headersTimeoutMs', async () => {
    const h = await hub({ 'http.headersTimeoutMs': 300 });
    const socket = tlsConnect({ host: '127.0.0.1', port: h.hub.port, ca: h.hub.tls.cert, servername: 'localhost' });
    sockets.push(socket);
    socket.on('error', () => undefined);
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    await new Promise<void>((r) => socket.once('secureConnect', () => r()));
    await closed;
    expect(await h.metric('hearth_connections_refused_total{reason="idle_timeout"}')).toBe(1);
    // a client that asks at once is served
    expect((await h.get('/healthz')).status).toBe(200);
  });

  it('refuses the N+1th socket of one address before TLS, logs it once, and serves another address', async () => {
    const h = await hub({ 'http.maxConnectionsPerAddress': 3, 'http.handshakeTimeoutMs': 60_000 });
    const held = await Promise.all(Array.from({ length: 3 }, () => silentSocket(h.hub.port)));
    const over = await Promise.all(Array.from({ length: 3 }, () => silentSocket(h.hub.port)));
    await Promise.all(over.map((s) => s.closed));
    expect(held.some((s) => s.socket.destroyed)).toBe(false);
    expect(h.logged('connection refused: too many connections from one address')).toHaveLength(1);
    // 127.0.0.2 is loopback too on Linux, and another address: it is served while 127.0.0.1 is at its cap.
    const other = await getFrom('127.0.0.2', h, '/metrics', h.hub.adminToken);
    expect(other.status).toBe(200);
    expect(other.body).toMatch(/^hearth_connections_refused_total\{reason="per_address"\} 3$/m);
    // once the held sockets close, 127.0.0.1 is served again
    for (const s of held) s.socket.destroy();
    expect(await eventually(async () => (await h.get('/healthz')).status)).toBe(200);
  });

  it('does not cap loopback with http.capLoopback false (a local reverse proxy is one address)', async () => {
    const h = await hub({ 'http.maxConnectionsPerAddress': 1, 'http.capLoopback': false, 'http.handshakeTimeoutMs': 60_000 });
    const held = await Promise.all(Array.from({ length: 3 }, () => silentSocket(h.hub.port)));
    expect((await h.get('/healthz')).status).toBe(200);
    expect(await h.metric('hearth_connections_refused_total{reason="per_address"}')).toBe(0);
    expect(held.some((s) => s.socket.destroyed)).toBe(false);
  });

  it('counts refused device upgrades by code and API 401s in /metrics, logging each cause once per window', async () => {
    const h = await hub();
    h.hub.registry.provision('auth-1', 'auth-1', 'thermostat', Date.now());
    for (let i = 0; i < 3; i++) {
      const refusal = (await RawDevice.connect(h.wssUrl, 'auth-1', 'wrong').catch((r: Refusal) => r)) as Refusal;
      expect(refusal.status).toBe(401);
    }
    await RawDevice.connect(h.wssUrl, 'nobody', 'x').catch((r: Refusal) => r);
    for (let i = 0; i < 4; i++) expect((await h.get('/api/devices')).status).toBe(401);
    expect(await h.metric('hearth_upgrades_refused_total{code="HUB_ERR_BAD_TOKEN"}')).toBe(3);
    expect(await h.metric('hearth_upgrades_refused_total{code="HUB_ERR_UNKNOWN_DEVICE"}')).toBe(1);
    expect(await h.metric('hearth_http_unauthorized_total')).toBe(4);
    const upgrades = h.logged('WebSocket upgrade refused').map((l) => (JSON.parse(l) as { code: string }).code);
    expect(upgrades.sort()).toEqual(['HUB_ERR_BAD_TOKEN', 'HUB_ERR_UNKNOWN_DEVICE']);
    expect(h.logged('HTTP request refused with 401')).toHaveLength(1);
  });

  it('[FP-10.7] answers 503 HUB_ERR_BUSY to new requests and upgrades near the descriptor ceiling, still serves /healthz and /metrics, and drops sockets at accept in the reserve', async () => {
    // A ceiling just above what this process holds: busy from the start (a reserve of 92 > 32 + 60), the
    // drop tier (the reserve's quarter, at least 32) 60 descriptors away.
    const open = countOpenFiles()!;
    const ceiling = open + 32 + 60;
    const h = await hub({ 'http.maxOpenFiles': ceiling, 'http.fdReserve': 32 + 60 + 1, 'http.handshakeTimeoutMs': 60_000 });
    const token = h.hub.adminToken;
    const api = await h.get('/api/hub', token);
    expect({ status: api.status, error: api.body.error, connection: api.headers.connection }).toEqual({ status: 503, error: 'HUB_ERR_BUSY', connection: 'close' });
    const { token: deviceToken } = sqliteNow(h.hub.registry.provision('busy-1', 'busy-1', 'thermostat', Date.now()));
    const refusal = (await RawDevice.connect(h.wssUrl, 'busy-1', deviceToken).catch((r: Refusal) => r)) as Refusal;
    expect({ status: refusal.status, error: refusal.body.error }).toEqual({ status: 503, error: 'HUB_ERR_BUSY' });
    expect((await h.get('/healthz')).status).toBe(200);
    expect(await h.metric('hearth_upgrades_refused_total{code="HUB_ERR_BUSY"}')).toBe(1);
    expect(await h.metric('hearth_connections_refused_total{reason="busy"}')).toBe(2);
    // 70 silent sockets: the hub's own 70 descriptors alone pass the drop tier, 60 away, so some are dropped at accept.
    const silent: { socket: Socket; closed: Promise<void> }[] = [];
    for (let i = 0; i < 70; i++) silent.push(await silentSocket(h.hub.port));
    await Promise.any(silent.map((s) => s.closed));
    expect(h.logged('connection dropped: open descriptors near the limit')).toHaveLength(1);
  });

  it('http.busyOpenFilesPercent of older configurations still answers 503 from its share of the ceiling', async () => {
    // A ceiling far above what the process holds, so http.fdReserve alone would serve; the percent is below what is open.
    const ceiling = countOpenFiles()! + 2000;
    const percent = Math.max(1, Math.floor(((countOpenFiles()! - 10) * 100) / ceiling));
    const h = await hub({ 'http.maxOpenFiles': ceiling, 'http.busyOpenFilesPercent': percent });
    const api = await h.get('/api/hub', h.hub.adminToken);
    expect({ status: api.status, error: api.body.error }).toEqual({ status: 503, error: 'HUB_ERR_BUSY' });
    const relaxed = await hub({ 'http.maxOpenFiles': ceiling });
    expect((await relaxed.get('/api/hub', relaxed.hub.adminToken)).status).toBe(200);
  });
});
