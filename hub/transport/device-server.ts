import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { DEVICE_ID_PATTERN, DEVICE_PATH_PREFIX, LIMITS, SUBPROTOCOL, SUBPROTOCOLS } from '../../protocol/constants.js';
import type { DeviceAuthResult } from '../auth/authorizer.js';
import { bearerToken, requestPath } from '../http/request.js';
import { refuseUpgrade } from '../http/refuse-upgrade.js';

/** One device's connection as the session layer sees it: bytes in, bytes out, no ws types. */
export interface DeviceLink {
  readonly deviceId: string;
  readonly remoteAddress: string;
  /** The subprotocol selected at the upgrade [FP-2.2]: 'hearth.v1' or 'hearth.v1.1'. */
  readonly protocol: string;
  /** Sends one message; `compress: false` skips permessage-deflate for it (it would not shrink) [FP-10.4]. */
  send(bytes: Uint8Array, opts?: { compress?: boolean }): void;
  close(code: number, reason: string): void;
  /** Drops the TCP connection without a close frame (dead peer). */
  terminate(): void;
  /** Stops reading from the socket (back-pressure); resume() reads again. */
  pause(): void;
  resume(): void;
  /** Sends a WebSocket ping now (the heartbeat does so on its own); the pong reaches LinkListener.onPong. */
  ping(): void;
}

export interface LinkListener {
  onMessage(data: Uint8Array, binary: boolean): void;
  onClose(code: number, reason: string): void;
  /** The device answered a ping. */
  onPong?(): void;
}

export interface DeviceServerOptions {
  heartbeatMs: number;
  /** Checks a device's bearer token before the upgrade [FP-2.3]. */
  authenticate(deviceId: string, token: string | undefined): DeviceAuthResult | Promise<DeviceAuthResult>;
  /** Called for each accepted connection; returns who hears its messages. */
  open(link: DeviceLink): LinkListener;
}

/** Pongs a device may miss before it is terminated [FP-10.1]. */
const MAX_MISSED_PONGS = 2;
/**
 * The heartbeat pings one slice of the connections per tick, the slices in turn, so each connection is still
 * pinged every heartbeatMs but no tick pings them all: 19,000 pings in one turn held the event loop (and every
 * ACK behind it) for ~0.5 s. At most this many slices, and ticks at least TICK_MIN_MS apart.
 */
const MAX_SLICES = 50;
const TICK_MIN_MS = 20;

interface Connection {
  ws: WebSocket;
  link: DeviceLink;
  missed: number;
  slice: Set<Connection>;
}

/** The device endpoint: `wss://<hub>/v1/devices/<id>`, subprotocol and credentials checked before any socket exists. */
export class DeviceServer {
  readonly #opts: DeviceServerOptions;
  readonly #wss: WebSocketServer;
  readonly #connections = new Set<Connection>();
  /** The heartbeat's slices of #connections; a new connection joins the smallest. */
  readonly #slices: Set<Connection>[];
  #nextSlice = 0;
  #heartbeat: NodeJS.Timeout | undefined;

  constructor(opts: DeviceServerOptions) {
    this.#opts = opts;
    const slices = Math.max(1, Math.min(MAX_SLICES, Math.floor(opts.heartbeatMs / TICK_MIN_MS)));
    this.#slices = Array.from({ length: slices }, () => new Set<Connection>());
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: LIMITS.maxFrameBytes, // [FP-2.5] larger messages get close 1009 from ws
      clientTracking: false,
      // [FP-10.4] worth it for BATCH replays only; small TELEMETRY stays under the threshold.
      perMessageDeflate: { threshold: 1024, serverNoContextTakeover: true, clientNoContextTakeover: true, concurrencyLimit: 4 },
      // [FP-2.2] the newest revision the device offers; handleUpgrade refused offers with neither token.
      handleProtocols: (offered) => SUBPROTOCOLS.find((p) => offered.has(p)) ?? SUBPROTOCOL,
    });
  }

  static matches(path: string): boolean {
    return path.startsWith(DEVICE_PATH_PREFIX);
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  start(): void {
    this.#heartbeat = setInterval(() => this.#beat(), this.#opts.heartbeatMs / this.#slices.length);
    this.#heartbeat.unref();
  }

  /** Stops the heartbeat; connections are closed by their sessions. */
  stop(): void {
    clearInterval(this.#heartbeat);
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = requestPath(req.url);
    const deviceId = decodePathSegment(path.slice(DEVICE_PATH_PREFIX.length));
    const offered = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((p) => p.trim());
    if (!SUBPROTOCOLS.some((p) => offered.includes(p))) {
      // [FP-2.2]
      return refuseUpgrade(socket, 'HUB_ERR_SUBPROTOCOL', `offer the WebSocket subprotocol "${SUBPROTOCOLS.join('" or "')}" (Sec-WebSocket-Protocol), got "${offered.join(', ')}"`);
    }
    if (!DEVICE_ID_PATTERN.test(deviceId)) {
      return refuseUpgrade(socket, 'HUB_ERR_UNKNOWN_DEVICE', `"${deviceId}" is not a valid device id`);
    }
    const auth = this.#opts.authenticate(deviceId, bearerToken(req) ?? undefined); // [FP-2.3]
    if (!('then' in auth)) return this.#upgrade(auth, req, socket, head, deviceId);
    // A device the PostgreSQL store is asked for: the socket waits, still before any WebSocket exists.
    auth.then(
      (answer) => (socket.destroyed ? undefined : this.#upgrade(answer, req, socket, head, deviceId)),
      () => socket.destroyed || refuseUpgrade(socket, 'HUB_ERR_UNKNOWN_DEVICE', `device "${deviceId}" cannot be looked up now; retry`),
    );
  }

  #upgrade(auth: DeviceAuthResult, req: IncomingMessage, socket: Duplex, head: Buffer, deviceId: string): void {
    if (!auth.ok) return refuseUpgrade(socket, auth.code, auth.message);
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, deviceId, req.socket.remoteAddress ?? ''));
  }

  #accept(ws: WebSocket, deviceId: string, remoteAddress: string): void {
    const link: DeviceLink = {
      deviceId,
      remoteAddress,
      protocol: ws.protocol,
      send: (bytes, opts) => {
        if (ws.readyState === ws.OPEN) ws.send(bytes, { binary: true, compress: opts?.compress ?? true });
      },
      close: (code, reason) => ws.close(code, reason),
      terminate: () => ws.terminate(),
      pause: () => ws.pause(),
      resume: () => ws.resume(),
      ping: () => {
        if (ws.readyState === ws.OPEN) ws.ping();
      },
    };
    let slice = this.#slices[0]!;
    for (const s of this.#slices) if (s.size < slice.size) slice = s;
    const conn: Connection = { ws, link, missed: 0, slice };
    this.#connections.add(conn);
    slice.add(conn);
    const listener = this.#opts.open(link);
    ws.on('pong', () => {
      conn.missed = 0;
      listener.onPong?.();
    });
    ws.on('message', (data, isBinary) => {
      const bytes = data as Buffer; // binaryType 'nodebuffer', no fragments array: maxPayload bounds it
      listener.onMessage(bytes, isBinary);
    });
    ws.on('error', () => ws.terminate());
    ws.on('close', (code, reason) => {
      this.#connections.delete(conn);
      conn.slice.delete(conn);
      listener.onClose(code, reason.toString());
    });
  }

  /** One tick: the next slice's connections get their ping, or are cut off after MAX_MISSED_PONGS. */
  #beat(): void {
    const slice = this.#slices[this.#nextSlice]!;
    this.#nextSlice = (this.#nextSlice + 1) % this.#slices.length;
    for (const conn of slice) {
      if (conn.missed >= MAX_MISSED_PONGS) {
        conn.ws.terminate(); // [FP-10.1] dead peer: no close handshake
        continue;
      }
      conn.missed += 1;
      conn.ws.ping();
    }
  }
}

/** decodeURIComponent that answers '' for a malformed escape (refused as an invalid id) instead of throwing. */
function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return '';
  }
}
