import net from 'node:net';

// MQTT packets written byte by byte, for tests that send what no well-behaved client library would: a
// CONNECT declaring 200 MiB, ill-formed UTF-8, filters with a wildcard inside a level.

/** The variable-length Remaining Length of MQTT §2.2.3. */
export function remainingLength(n: number): Buffer {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Buffer.from(out);
}

/** A length-prefixed MQTT string of raw bytes (so ill-formed UTF-8 can be sent). */
export function mqttString(bytes: Buffer | string): Buffer {
  const b = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
}

export interface ConnectFields {
  clientId: Buffer | string;
  /** 4: MQTT 3.1.1 (default), 5: MQTT 5. */
  version?: 4 | 5;
  username?: string;
  password?: string;
  clean?: boolean;
  will?: { topic: Buffer | string; payload: string };
}

/** A complete CONNECT packet. */
export function connectPacket(f: ConnectFields): Buffer {
  const version = f.version ?? 4;
  let flags = f.clean === false ? 0 : 0x02;
  if (f.will) flags |= 0x04;
  if (f.username !== undefined) flags |= 0x80;
  if (f.password !== undefined) flags |= 0x40;
  const props = version === 5 ? Buffer.from([0]) : Buffer.alloc(0);
  const parts: Buffer[] = [mqttString('MQTT'), Buffer.from([version, flags, 0, 0]), props, mqttString(f.clientId)];
  if (f.will) parts.push(props, mqttString(f.will.topic), mqttString(f.will.payload));
  if (f.username !== undefined) parts.push(mqttString(f.username));
  if (f.password !== undefined) parts.push(mqttString(f.password));
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([0x10]), remainingLength(body.length), body]);
}

/** A SUBSCRIBE of `filters` at QoS 0 (raw bytes allowed). */
export function subscribePacket(messageId: number, filters: (Buffer | string)[], version: 4 | 5 = 4): Buffer {
  const parts: Buffer[] = [Buffer.from([messageId >> 8, messageId & 0xff])];
  if (version === 5) parts.push(Buffer.from([0]));
  for (const f of filters) parts.push(mqttString(f), Buffer.from([0]));
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([0x82]), remainingLength(body.length), body]);
}

/** An UNSUBSCRIBE of `filters`. */
export function unsubscribePacket(messageId: number, filters: string[]): Buffer {
  const body = Buffer.concat([Buffer.from([messageId >> 8, messageId & 0xff]), ...filters.map((f) => mqttString(f))]);
  return Buffer.concat([Buffer.from([0xa2]), remainingLength(body.length), body]);
}

/** A QoS 0 PUBLISH (raw topic bytes allowed). */
export function publishPacket(topic: Buffer | string, payload: Buffer | string, version: 4 | 5 = 4): Buffer {
  const body = Buffer.concat([mqttString(topic), version === 5 ? Buffer.from([0]) : Buffer.alloc(0), Buffer.from(payload)]);
  return Buffer.concat([Buffer.from([0x30]), remainingLength(body.length), body]);
}

/** One packet as received: its type (high nibble of the first byte) and body. */
export interface RawPacket {
  type: number;
  body: Buffer;
}

/** A TCP connection speaking raw MQTT: writes bytes, reads whole packets, tells when the hub closed it. */
export class RawMqtt {
  readonly socket: net.Socket;
  readonly closed: Promise<void>;
  readonly packets: RawPacket[] = [];
  #buf = Buffer.alloc(0);
  #waiters: (() => void)[] = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, chunk]);
      for (let p = this.#take(); p; p = this.#take()) this.packets.push(p);
      for (const w of this.#waiters.splice(0)) w();
    });
    socket.once('close', () => {
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  /** Connects from `localAddress` (any 127.x.y.z works on Linux loopback), to tell clients apart by address. */
  static open(port: number, localAddress = '127.0.0.1'): Promise<RawMqtt> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: '127.0.0.1', localAddress }, () => resolve(new RawMqtt(socket)));
      socket.once('error', reject);
    });
  }

  /** Writes bytes; false once the hub has closed the socket. */
  write(bytes: Buffer): boolean {
    if (this.socket.destroyed) return false;
    this.socket.write(bytes);
    return true;
  }

  get isClosed(): boolean {
    return this.socket.destroyed || this.socket.readableEnded;
  }

  /** The next packet of `type` (2 CONNACK, 9 SUBACK, 14 DISCONNECT ...) not yet taken, or null once closed without it. */
  async next(type: number): Promise<RawPacket | null> {
    for (;;) {
      const i = this.packets.findIndex((p) => p.type === type);
      if (i >= 0) return this.packets.splice(i, 1)[0]!;
      if (this.socket.destroyed || this.socket.readableEnded) return null;
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** CONNACK's answer: the 3.1.1 return code or the v5 reason code. */
  async connack(): Promise<number | null> {
    const p = await this.next(2);
    return p ? p.body[1]! : null;
  }

  end(): void {
    this.socket.destroy();
  }

  #take(): RawPacket | null {
    const b = this.#buf;
    if (b.length < 2) return null;
    let len = 0;
    let mul = 1;
    let i = 1;
    for (; i < 5; i++) {
      if (i >= b.length) return null;
      len += (b[i]! & 0x7f) * mul;
      mul *= 128;
      if ((b[i]! & 0x80) === 0) break;
    }
    const start = i + 1;
    if (b.length < start + len) return null;
    this.#buf = b.subarray(start + len);
    return { type: b[0]! >> 4, body: b.subarray(start, start + len) };
  }
}
