// Test support: a small fake hub for the simulator's tests (and the lead's, until the real hub exists).
// A real `ws` server on 127.0.0.1, plain or TLS with a self-signed certificate; credentials and
// subprotocol checked at the upgrade; frames through the shared codec; readings stored by (device, seq).
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import selfsigned from 'selfsigned';
import { WebSocketServer, type WebSocket } from 'ws';
import { DEVICE_PATH_PREFIX, LIMITS, SESSION_CLOSE_CODES, SUBPROTOCOL, UPGRADE_STATUSES } from '../protocol/index.js';
import type { CommandResultFrame, UpgradeErrorCode, Value } from '../protocol/index.js';
import { commit, loseUncommitted, newDeviceRecord, TestHubSession, type HubDeviceRecord, type SessionRules } from './test-hub-session.js';

export type { HubDeviceRecord, StoredItem } from './test-hub-session.js';

export interface TestHubOptions {
  /** Serve wss:// with a self-signed certificate (default: plain ws://). */
  tls?: boolean;
  /** deviceId -> token. Devices not listed are refused with 401 unless acceptAnyToken. */
  tokens?: Record<string, string>;
  acceptAnyToken?: boolean;
  /** Bearer token of POST /api/devices. */
  adminToken?: string;
  /** WELCOME values (defaults: the protocol's limits, 30 s heartbeat, 200 frames/s). */
  heartbeatMs?: number;
  maxFramesPerSecond?: number;
  maxBatchSamples?: number;
  maxFrameBytes?: number;
  maxReadingsPerFrame?: number;
  /** Send a WebSocket ping this often (wall clock); default: never. */
  pingIntervalMs?: number;
  /** The hub's clock (WELCOME.hubTime, rate limiting); default Date.now. Share a ManualClock with the devices. */
  now?: () => number;
}

let certificate: Promise<{ cert: string; key: string }> | null = null;

/** One self-signed certificate per test process (EC: fast to make), valid for 127.0.0.1 and localhost. */
function testCertificate(): Promise<{ cert: string; key: string }> {
  certificate ??= selfsigned
    .generate([{ name: 'commonName', value: 'hearth-test-hub' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }],
    })
    .then((p) => ({ cert: p.cert, key: p.private }));
  return certificate;
}

/** A fake hub. start() listens on an ephemeral port; restart() comes back on the same one. */
export class TestHub {
  readonly devices = new Map<string, HubDeviceRecord>();
  /** Every upgrade refused, in order. */
  readonly refusals: { deviceId: string; status: number; code: string }[] = [];
  /** 'auto' commits and ACKs each data frame; 'hold' stores them uncommitted and sends no ACK. */
  ackMode: 'auto' | 'hold' = 'auto';
  /** When set, every upgrade is refused with this status and error code. */
  refuseWith: { status: number; code: string } | null = null;
  /** Connections accepted since start. */
  connections = 0;
  /** The permessage-deflate parameters each accepted connection negotiated ('' if none), in order. */
  readonly extensions: string[] = [];
  /**
   * Every connection's end: the close code the device sent (1006 when the TCP connection just ended) and
   * the bytes read from its socket, upgrade request included (to see compression at work).
   */
  readonly closes: { deviceId: string; code: number; bytesRead: number }[] = [];
  ca: string | undefined;
  readonly #o: TestHubOptions;
  readonly #tokens: Map<string, string>;
  readonly #sessions = new Map<string, { ws: WebSocket; session: TestHubSession }>();
  #server: Server | null = null;
  #wss: WebSocketServer | null = null;
  #port = 0;
  #ping: NodeJS.Timeout | null = null;
  #commandId = 0;

  constructor(options: TestHubOptions = {}) {
    this.#o = options;
    this.#tokens = new Map(Object.entries(options.tokens ?? {}));
  }

  get port(): number {
    return this.#port;
  }

  /** `ws://127.0.0.1:<port>` or `wss://...`. */
  get url(): string {
    return `${this.#o.tls === true ? 'wss' : 'ws'}://127.0.0.1:${this.#port}`;
  }

  /** Listens (on an ephemeral port the first time, on the same port after a restart). */
  async start(): Promise<void> {
    const tls = this.#o.tls === true ? await testCertificate() : null;
    this.ca = tls?.cert;
    const onRequest = (req: IncomingMessage, res: ServerResponse): void => this.#api(req, res);
    const server = tls !== null ? createHttpsServer({ cert: tls.cert, key: tls.key }, onRequest) : createHttpServer(onRequest);
    const wss = new WebSocketServer({
      noServer: true,
      maxPayload: LIMITS.maxFrameBytes,
      perMessageDeflate: { threshold: 1024, serverNoContextTakeover: true, clientNoContextTakeover: true },
      handleProtocols: () => SUBPROTOCOL,
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(wss, req, socket, head));
    wss.on('headers', (headers: string[]) => {
      const line = headers.find((h) => h.toLowerCase().startsWith('sec-websocket-extensions:'));
      this.extensions.push(line === undefined ? '' : line.slice(line.indexOf(':') + 1).trim());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, '127.0.0.1', () => resolve());
    });
    this.#port = (server.address() as { port: number }).port;
    this.#server = server;
    this.#wss = wss;
    if (this.#o.pingIntervalMs !== undefined) {
      this.#ping = setInterval(() => {
        for (const { ws } of this.#sessions.values()) ws.ping();
      }, this.#o.pingIntervalMs);
    }
  }

  /** Closes every connection (1001 going away, after committing unless told to lose) and the server. */
  async stop(options: { loseUncommitted?: boolean } = {}): Promise<void> {
    if (this.#ping !== null) clearInterval(this.#ping);
    this.#ping = null;
    for (const r of this.devices.values()) {
      if (options.loseUncommitted === true) loseUncommitted(r);
    }
    const closing = [...this.#sessions.values()].map(({ ws, session }) => {
      const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
      session.fail('HUB_ERR_SHUTDOWN', SESSION_CLOSE_CODES.HUB_ERR_SHUTDOWN, 'hub restarting');
      // A device that does not complete the closing handshake promptly is cut off.
      const timer = setTimeout(() => ws.terminate(), 1000);
      return closed.then(() => clearTimeout(timer));
    });
    await Promise.all(closing);
    this.#sessions.clear();
    const server = this.#server;
    this.#server = null;
    this.#wss?.close();
    this.#wss = null;
    if (server !== null) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  /** Stops and starts again on the same port, keeping what was committed (and, unless told, what was not). */
  async restart(options: { loseUncommitted?: boolean } = {}): Promise<void> {
    await this.stop(options);
    await this.start();
  }

  /** Commits held frames and goes back to ACKing each frame. */
  resumeAcking(): void {
    this.ackMode = 'auto';
    for (const r of this.devices.values()) commit(r);
    for (const { session } of this.#sessions.values()) session.ackDurable();
  }

  /** Closes every connection with `code`, or drops the TCP connections without a close frame when omitted. */
  dropConnections(code?: number): void {
    for (const { ws } of this.#sessions.values()) {
      if (code === undefined) ws.terminate();
      else ws.close(code, 'dropped by test');
    }
  }

  /** Closes one device's connection with ERROR + `closeCode` (4010 revoke, 4009 replace, 4008 rate...). */
  kick(deviceId: string, code: string, closeCode: number): void {
    this.#sessions.get(deviceId)?.session.fail(code, closeCode, 'kicked by test');
  }

  /** Pings every connection (or one device's); resolves once each answered with a pong. */
  ping(deviceId?: string): Promise<void> {
    const targets = [...this.#sessions.entries()].filter(([id]) => deviceId === undefined || id === deviceId);
    return Promise.all(targets.map(([, { ws }]) => new Promise<void>((resolve) => {
      ws.once('pong', () => resolve());
      ws.ping();
    }))).then(() => undefined);
  }

  /** Sends raw bytes as one binary message to a device (frames the codec would not produce). */
  sendRaw(deviceId: string, bytes: Uint8Array): void {
    this.#sessions.get(deviceId)?.ws.send(bytes);
  }

  /** True while the device has a greeted connection. */
  isConnected(deviceId: string): boolean {
    return this.#sessions.get(deviceId)?.session.greeted ?? false;
  }

  /** Sends a COMMAND to a connected device; resolves with its COMMAND_RESULT. */
  command(deviceId: string, metric: number, value: Value): Promise<CommandResultFrame> {
    const s = this.#sessions.get(deviceId);
    if (s === undefined) return Promise.reject(new Error(`device ${deviceId} is not connected`));
    return s.session.command(++this.#commandId, metric, value);
  }

  /** Registers a device token (what provisioning does). */
  addDevice(deviceId: string, token: string): void {
    this.#tokens.set(deviceId, token);
  }

  /** The device's record, created on first use. */
  device(deviceId: string): HubDeviceRecord {
    let r = this.devices.get(deviceId);
    if (r === undefined) {
      r = newDeviceRecord(deviceId);
      this.devices.set(deviceId, r);
    }
    return r;
  }

  #upgrade(wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const deviceId = path.startsWith(DEVICE_PATH_PREFIX) ? decodeURIComponent(path.slice(DEVICE_PATH_PREFIX.length)) : '';
    const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim());
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const expected = this.#tokens.get(deviceId);
    // The hub's statuses, so that a simulator test cannot pass against refusals the hub never sends.
    const refusalOf = (code: UpgradeErrorCode) => ({ status: UPGRADE_STATUSES[code], code });
    let refusal: { status: number; code: string } | null = this.refuseWith;
    if (refusal === null && !offered.includes(SUBPROTOCOL)) refusal = refusalOf('HUB_ERR_SUBPROTOCOL');
    else if (refusal === null && deviceId === '') refusal = refusalOf('HUB_ERR_UNKNOWN_DEVICE');
    else if (refusal === null && this.#o.acceptAnyToken !== true && expected === undefined) refusal = refusalOf('HUB_ERR_UNKNOWN_DEVICE');
    else if (refusal === null && (token === undefined || (this.#o.acceptAnyToken !== true && token !== expected))) refusal = refusalOf('HUB_ERR_BAD_TOKEN');
    if (refusal !== null) {
      this.refusals.push({ deviceId, ...refusal });
      const body = JSON.stringify({ error: refusal.code, message: 'refused by the test hub' });
      socket.end(`HTTP/1.1 ${refusal.status} Refused\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => this.#accept(deviceId, ws, socket));
  }

  #accept(deviceId: string, ws: WebSocket, socket: Duplex): void {
    this.connections++;
    const previous = this.#sessions.get(deviceId);
    previous?.session.fail('HUB_ERR_REPLACED', SESSION_CLOSE_CODES.HUB_ERR_REPLACED, 'another connection took over');
    const o = this.#o;
    const rules: SessionRules = {
      welcome: {
        heartbeatMs: o.heartbeatMs ?? 30_000,
        maxFrameBytes: o.maxFrameBytes ?? LIMITS.maxFrameBytes,
        maxReadingsPerFrame: o.maxReadingsPerFrame ?? LIMITS.maxReadingsPerFrame,
        maxBatchSamples: o.maxBatchSamples ?? LIMITS.maxBatchSamples,
        maxFramesPerSecond: o.maxFramesPerSecond ?? 200,
      },
      ackMode: () => this.ackMode,
      now: o.now ?? (() => Date.now()),
    };
    const session = new TestHubSession(this.device(deviceId), { send: (b) => ws.send(b), close: (c, r) => ws.close(c, r) }, rules);
    const entry = { ws, session };
    this.#sessions.set(deviceId, entry);
    ws.on('message', (data, isBinary) => session.onMessage(data as Buffer, isBinary));
    ws.on('error', () => {});
    ws.on('close', (code) => {
      this.closes.push({ deviceId, code, bytesRead: (socket as Duplex & { bytesRead?: number }).bytesRead ?? 0 });
      session.closed();
      if (this.#sessions.get(deviceId) === entry) this.#sessions.delete(deviceId);
    });
  }

  #api(req: IncomingMessage, res: ServerResponse): void {
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.method !== 'POST' || req.url !== '/api/devices') return send(404, { error: 'HUB_ERR_NOT_FOUND', message: 'no such endpoint' });
    if (this.#o.adminToken === undefined || req.headers.authorization !== `Bearer ${this.#o.adminToken}`) {
      return send(401, { error: 'HUB_ERR_UNAUTHORIZED', message: 'admin token required' });
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string; name?: string; type?: string };
      if (this.#tokens.has(body.id)) return send(409, { error: 'HUB_ERR_DEVICE_EXISTS', message: `device "${body.id}" exists` });
      const token = `tok-${body.id}-${this.#tokens.size}`;
      this.#tokens.set(body.id, token);
      send(201, { device: { id: body.id, name: body.name ?? body.id, type: body.type ?? '' }, token });
    });
  }
}

/** Resolves once `predicate` holds, checking every few ms; rejects naming `what` after `timeoutMs`. */
export async function waitUntil(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
