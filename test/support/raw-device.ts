import WebSocket from 'ws';
import { decode, encode } from '../../protocol/index.js';
import { SUBPROTOCOL } from '../../protocol/constants.js';
import type { Frame, HelloFrame, WelcomeFrame } from '../../protocol/types.js';

export interface Refusal {
  status: number;
  body: { error: string; message: string };
}

/** A device driven frame by frame (or byte by byte) for tests of the hub's boundary. */
export class RawDevice {
  readonly ws: WebSocket;
  readonly frames: Frame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: { match: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  #cursor = 0;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('message', (data: Buffer) => {
      const frame = decode(new Uint8Array(data));
      this.frames.push(frame);
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.match(frame)) return true;
        w.resolve(frame);
        return false;
      });
    });
  }

  /** Opens the WebSocket; rejects with the HTTP refusal (status and JSON body) when the hub refuses the upgrade. */
  static connect(base: string, id: string, token: string | null, opts: { protocol?: string | null } = {}): Promise<RawDevice> {
    const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
    const protocols = opts.protocol === null ? [] : [opts.protocol ?? SUBPROTOCOL];
    const ws = new WebSocket(`${base}/v1/devices/${encodeURIComponent(id)}`, protocols, { headers, rejectUnauthorized: false });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new RawDevice(ws)));
      ws.once('unexpected-response', (_req, res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => reject({ status: res.statusCode ?? 0, body: JSON.parse(text) } satisfies Refusal));
      });
      ws.once('error', (err) => reject(err));
    });
  }

  /** Connects and completes the greeting. */
  static async greet(base: string, id: string, token: string, hello: Omit<HelloFrame, 'type'>): Promise<{ device: RawDevice; welcome: WelcomeFrame }> {
    const device = await RawDevice.connect(base, id, token);
    device.send({ type: 'hello', ...hello });
    const welcome = (await device.next('welcome')) as WelcomeFrame;
    return { device, welcome };
  }

  send(frame: Frame | Uint8Array | string): void {
    if (typeof frame === 'string' || frame instanceof Uint8Array) this.ws.send(frame);
    else this.ws.send(encode(frame));
  }

  /** The next frame of `type` not yet consumed by next(), waiting for it if needed. */
  next(type?: Frame['type'], predicate: (f: Frame) => boolean = () => true): Promise<Frame> {
    const match = (f: Frame) => (!type || f.type === type) && predicate(f);
    for (let i = this.#cursor; i < this.frames.length; i++) {
      const f = this.frames[i]!;
      if (match(f)) {
        this.#cursor = i + 1;
        return Promise.resolve(f);
      }
    }
    return new Promise((resolve) =>
      this.#waiters.push({
        match,
        resolve: (f) => {
          this.#cursor = this.frames.indexOf(f) + 1;
          resolve(f);
        },
      }),
    );
  }

  /** Resolves with the first ACK covering `seq`. */
  ackFor(seq: number): Promise<Frame> {
    const seen = this.frames.find((f) => f.type === 'ack' && f.seq >= seq);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiters.push({ match: (f) => f.type === 'ack' && f.seq >= seq, resolve }));
  }

  close(): Promise<{ code: number; reason: string }> {
    this.ws.close(1000);
    return this.closed;
  }
}
