// The simulator's only contact with `ws`: one WebSocket to the hub, bytes in and out through the shared
// codec. It knows nothing of sequence numbers or models; SimDevice gets typed frames and lifecycle calls.
import WebSocket from 'ws';
import type { IncomingMessage } from 'node:http';
import { createSecureContext, type SecureContext } from 'node:tls';
import { decode, DEVICE_PATH_PREFIX, encode, ProtocolError, SUBPROTOCOLS, CLOSE_CODES } from '../protocol/index.js';
import type { Frame } from '../protocol/index.js';

/** Largest message the device accepts, the protocol's frame limit [FP-2.5]. */
const MAX_PAYLOAD = 65536;
/** Longest refusal body read for its error code. */
const MAX_REFUSAL_BODY = 4096;

export interface ConnectionOptions {
  /** `wss://host:port` (or `ws://` for tests); the device path is appended. */
  hubUrl: string;
  deviceId: string;
  token: string;
  /** PEM of the CA (or self-signed certificate) to trust. */
  ca?: string | Buffer;
  /** Skip certificate verification: only when the user asked for it explicitly. */
  insecure?: boolean;
}

/** How the connection reports to its owner. Exactly one of onClose/onRefused ends each connection. */
export interface ConnectionHandler {
  onOpen(): void;
  onFrame(frame: Frame): void;
  /** Any sign of life from the hub: a message or a ping. */
  onHeard(): void;
  /** The upgrade was answered with an HTTP status instead of 101 (401 bad credentials, 400 subprotocol) [FP-2.3]. */
  onRefused(status: number, code: string): void;
  /** `local`: this side started the closing (stop(), or a hub frame it could not accept). */
  onClose(code: number, reason: string, local: boolean): void;
}

// Building a SecureContext parses the CA and fills an X509 store: about a millisecond each, which at a
// fleet's connect ramp blocked the event loop for seconds. One context per CA serves every connection.
const secureContexts = new Map<string, SecureContext>();

function secureContextFor(ca: string | Buffer | undefined): SecureContext {
  const key = ca === undefined ? '' : ca.toString();
  let context = secureContexts.get(key);
  if (context === undefined) {
    context = createSecureContext(ca === undefined ? {} : { ca });
    secureContexts.set(key, context);
  }
  return context;
}

/** URL of a device's endpoint: `<hub>/v1/devices/<id>` [FP-2.1]. */
export function deviceUrl(hubUrl: string, deviceId: string): string {
  return `${hubUrl.replace(/\/+$/, '')}${DEVICE_PATH_PREFIX}${encodeURIComponent(deviceId)}`;
}

/** One WebSocket session to the hub. Constructing it does nothing; open() dials. */
export class DeviceConnection {
  readonly #options: ConnectionOptions;
  readonly #handler: ConnectionHandler;
  #ws: WebSocket | null = null;
  #refusal: { status: number; code: string } | null = null;
  #ended = false;
  #local = false;

  constructor(options: ConnectionOptions, handler: ConnectionHandler) {
    this.#options = options;
    this.#handler = handler;
  }

  /** True between the upgrade and the close. */
  get isOpen(): boolean {
    return this.#ws?.readyState === WebSocket.OPEN;
  }

  /** Bytes queued in the socket, not yet written (back-pressure signal). */
  get bufferedAmount(): number {
    return this.#ws?.bufferedAmount ?? 0;
  }

  /** Dials the hub with the subprotocols (1.1 preferred, 1.0 for older hubs) and bearer token [FP-2.2, FP-2.3]. */
  open(): void {
    const o = this.#options;
    const ws = new WebSocket(deviceUrl(o.hubUrl, o.deviceId), [...SUBPROTOCOLS], {
      headers: { Authorization: `Bearer ${o.token}` },
      ...(o.hubUrl.startsWith('wss:') ? { secureContext: secureContextFor(o.ca) } : {}),
      // Certificate checks stay on unless the user explicitly asked otherwise [FP-2.6].
      rejectUnauthorized: o.insecure !== true,
      maxPayload: MAX_PAYLOAD,
      // BATCH replays are worth compressing; TELEMETRY stays under the threshold [FP-10.4]. ws keeps a
      // device's deflate stream once it has compressed a message: with zlib's defaults (32 KB window,
      // memLevel 8) that is ~260 KB per device, 2.6 GB for 10,000 devices after a hub outage. A 1 KB window
      // and memLevel 4 cost ~12 KB and still compress a delta-encoded BATCH well.
      perMessageDeflate: { threshold: 1024, serverNoContextTakeover: true, clientNoContextTakeover: true, clientMaxWindowBits: 10, zlibDeflateOptions: { memLevel: 4 } },
    });
    this.#ws = ws;
    ws.on('open', () => this.#handler.onOpen());
    ws.on('ping', () => this.#handler.onHeard());
    ws.on('message', (data, isBinary) => this.#onMessage(data as Buffer, isBinary));
    ws.on('unexpected-response', (req, res) => this.#onRefused(req, res));
    // 'close' always follows 'error'; the error itself only explains a 1006 we report anyway.
    ws.on('error', () => {});
    ws.on('close', (code, reason) => this.#onClose(code, reason.toString()));
  }

  /** Encodes and sends a frame; false when the socket is not open. */
  send(frame: Frame): boolean {
    return this.sendBytes(encode(frame));
  }

  /** Sends already-encoded frame bytes as one binary message [FP-2.4]; false when not open. */
  sendBytes(bytes: Uint8Array): boolean {
    const ws = this.#ws;
    if (ws === null || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(bytes, { binary: true });
    return true;
  }

  /** Starts the closing handshake. */
  close(code: number = CLOSE_CODES.NORMAL, reason = ''): void {
    const ws = this.#ws;
    if (ws === null) return;
    this.#local = true;
    if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
    else ws.close(code, reason);
  }

  /** Drops the TCP connection without a closing handshake (dead hub, watchdog). */
  terminate(): void {
    this.#local = true;
    this.#ws?.terminate();
  }

  #onMessage(data: Buffer, isBinary: boolean): void {
    this.#handler.onHeard();
    if (!isBinary) {
      this.close(CLOSE_CODES.UNSUPPORTED_DATA, 'text message');
      return;
    }
    let frame: Frame;
    try {
      frame = decode(data);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      this.close(err.closeCode, err.code);
      return;
    }
    this.#handler.onFrame(frame);
  }

  #onRefused(req: { destroy(): void }, res: IncomingMessage): void {
    const status = res.statusCode ?? 0;
    this.#refusal = { status, code: '' };
    const chunks: Buffer[] = [];
    let size = 0;
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      if (this.#refusal !== null) this.#refusal.code = errorCodeOf(Buffer.concat(chunks).toString('utf8'));
      this.#ws?.terminate();
    };
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_REFUSAL_BODY) chunks.push(chunk);
      else req.destroy();
    });
    res.on('end', finish);
    res.on('error', finish);
    res.on('close', finish);
  }

  #onClose(code: number, reason: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#ws?.removeAllListeners();
    this.#ws?.on('error', () => {});
    this.#ws = null;
    if (this.#refusal !== null) this.#handler.onRefused(this.#refusal.status, this.#refusal.code);
    else this.#handler.onClose(code, reason, this.#local);
  }
}

function errorCodeOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    return typeof parsed.error === 'string' ? parsed.error : '';
  } catch {
    return '';
  }
}
