// Test support: what passed on the wire between one device and the TestHub, across its connections and the
// hub's restarts. It only observes (the hub's real parts decide); tests read it to see what the simulator sent
// and what the hub acknowledged.
import type { Duplex } from 'node:stream';
import { decode } from '../../protocol/index.js';
import type { DataFrame, Frame, HelloFrame } from '../../protocol/index.js';
import type { DeviceLink } from '../../hub/transport/device-server.js';
import { itemsOf, type RecordedItem } from '../send-record.js';

/** One device's traffic with the hub, as seen on its links. */
export class DeviceTap {
  readonly id: string;
  /** Every HELLO the device sent, in order. */
  readonly hellos: HelloFrame[] = [];
  /** Every data frame received, in arrival order, resends and duplicates included. */
  readonly received: DataFrame[] = [];
  /** Data frames received, and how many of them had RESEND set. */
  frames = 0;
  resends = 0;
  /** Frames the hub has said it holds (ACK, or WELCOME.nextSeq), by seq: the first copy received of each. */
  readonly acked = new Map<number, RecordedItem[]>();
  /** The first copy of each seq received and not yet covered by the hub's word. */
  readonly #unacked = new Map<number, DataFrame>();
  readonly #pongs: (() => void)[] = [];

  constructor(id: string) {
    this.id = id;
  }

  /** A message from the device. */
  fromDevice(data: Uint8Array, binary: boolean): void {
    const frame = binary ? decodeOrNull(data) : null;
    if (frame === null) return;
    if (frame.type === 'hello') this.hellos.push(frame);
    if (frame.type !== 'telemetry' && frame.type !== 'batch' && frame.type !== 'event') return;
    this.received.push(frame);
    this.frames++;
    if (frame.resend === true) this.resends++;
    if (!this.acked.has(frame.seq) && !this.#unacked.has(frame.seq)) this.#unacked.set(frame.seq, frame);
  }

  /** A message to the device: ACK(n) and WELCOME.nextSeq say the hub durably holds every seq up to n. */
  toDevice(data: Uint8Array): void {
    const frame = decodeOrNull(data);
    if (frame?.type === 'ack') this.#covered(frame.seq);
    if (frame?.type === 'welcome') this.#covered(frame.nextSeq - 1);
  }

  /** The hub crashed: what it had not acknowledged is gone from it. */
  forgetUnacked(): void {
    this.#unacked.clear();
  }

  /** Resolves at the device's next pong. */
  nextPong(): Promise<void> {
    return new Promise((resolve) => this.#pongs.push(resolve));
  }

  pong(): void {
    for (const resolve of this.#pongs.splice(0)) resolve();
  }

  #covered(upTo: number): void {
    for (const [seq, frame] of this.#unacked) {
      if (seq > upTo) continue;
      this.acked.set(seq, itemsOf(frame));
      this.#unacked.delete(seq);
    }
  }
}

/** `link`, with every message the session sends to the device shown to `tap` first. */
export function tapLink(link: DeviceLink, tap: DeviceTap): DeviceLink {
  return {
    deviceId: link.deviceId,
    remoteAddress: link.remoteAddress,
    protocol: link.protocol,
    send: (bytes, opts) => {
      tap.toDevice(bytes);
      link.send(bytes, opts);
    },
    close: (code, reason) => link.close(code, reason),
    terminate: () => link.terminate(),
    pause: () => link.pause(),
    resume: () => link.resume(),
    ping: () => link.ping(),
  };
}

/** Tells `seen` the Sec-WebSocket-Extensions of the 101 response ('' if none) as ws writes it to the socket. */
export function tapUpgradeResponse(socket: Duplex, seen: (extensions: string) => void): void {
  const write = socket.write;
  socket.write = ((chunk: unknown, ...rest: unknown[]) => {
    socket.write = write;
    const head = String(chunk);
    if (head.startsWith('HTTP/1.1 101')) seen(/^sec-websocket-extensions:(.*)$/im.exec(head)?.[1]?.trim() ?? '');
    return (write as (...args: unknown[]) => boolean).call(socket, chunk, ...rest);
  }) as typeof socket.write;
}

function decodeOrNull(data: Uint8Array): Frame | null {
  try {
    return decode(data);
  } catch {
    return null; // the session answers it; the tap just does not record it
  }
}
