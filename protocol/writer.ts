import { LIMITS, MAX_VARINT } from './constants.js';
import { ProtocolError } from './errors.js';
import { show } from './field-checks.js';
import type { Value } from './types.js';
import { utf8ByteLength, writeUtf8 } from './utf8.js';
import { writeValue } from './value.js';

/**
 * Appends protocol primitives to one growable scratch buffer; `toBytes()` copies the result out.
 * Reusable after `reset()`. Each write method validates its argument before writing any byte, so a
 * refused write leaves the writer as it was. Usable standalone (the hub's storage encodes chunks with it).
 */
export class Writer {
  private buf: Uint8Array;
  // Floats go through a DataView on the buffer, remade only when the buffer grows.
  private view: DataView;
  private pos = 0;
  private readonly maxBytes: number;

  /** `maxBytes` bounds the output: a write past it throws PROTO_ERR_LIMIT (encode passes maxFrameBytes). */
  constructor(initialCapacity = 256, maxBytes = Number.MAX_SAFE_INTEGER) {
    this.buf = new Uint8Array(Math.max(16, initialCapacity));
    this.view = new DataView(this.buf.buffer);
    this.maxBytes = maxBytes;
  }

  /** Bytes written since the last reset. */
  get length(): number {
    return this.pos;
  }

  /** Forgets what was written; keeps the buffer. */
  reset(): void {
    this.pos = 0;
  }

  /** A copy of the bytes written so far. */
  toBytes(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }

  /** Unsigned byte 0..255 [FP-4.3]. */
  u8(n: number): void {
    if (!(n >= 0 && n <= 0xff && Number.isInteger(n))) {
      throw new ProtocolError('PROTO_ERR_BAD_FIELD', `byte out of range: ${show(n)}`);
    }
    this.ensure(1);
    this.buf[this.pos++] = n;
  }

  /** Unsigned LEB128, 1..8 bytes, 0..MAX_VARINT; anything else throws PROTO_ERR_VARINT [FP-4.1]. */
  varint(n: number): void {
    if (!(n >= 0 && n <= MAX_VARINT && Number.isInteger(n))) {
      throw new ProtocolError('PROTO_ERR_VARINT', `not a varint: ${show(n)}`);
    }
    this.grow(8);
    const buf = this.buf;
    const start = this.pos;
    let pos = start;
    if (n >= 0x10000000) {
      // Bitwise operators stop at 32 bits: emit the low 28 bits as 4 groups, then go on with the
      // rest, found by division [FP-4.1].
      const low = n % 0x10000000;
      buf[pos++] = (low & 0x7f) | 0x80;
      buf[pos++] = ((low >>> 7) & 0x7f) | 0x80;
      buf[pos++] = ((low >>> 14) & 0x7f) | 0x80;
      buf[pos++] = ((low >>> 21) & 0x7f) | 0x80;
      n = (n - low) / 0x10000000;
    }
    while (n >= 0x80) {
      buf[pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    buf[pos++] = n;
    if (pos > this.maxBytes) this.overLimit(pos - start);
    this.pos = pos;
  }

  /** IEEE 754 single, little-endian [FP-4.3]. The caller decides that `x` fits (see writeValue). */
  float32(x: number): void {
    this.ensure(4);
    this.view.setFloat32(this.pos, x, true);
    this.pos += 4;
  }

  /** IEEE 754 double, little-endian [FP-4.3]. */
  float64(x: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, x, true);
    this.pos += 8;
  }

  /**
   * Varint byte length then UTF-8 [FP-4.2]. Throws PROTO_ERR_LIMIT beyond `maxBytes` bytes and
   * PROTO_ERR_BAD_UTF8 for a string with a lone surrogate (it has no UTF-8 form).
   */
  string(s: string, maxBytes: number = LIMITS.maxStringBytes, field = 'string'): void {
    if (typeof s !== 'string') throw new ProtocolError('PROTO_ERR_BAD_FIELD', `${field} is not a string`);
    const n = utf8ByteLength(s);
    if (n < 0) throw new ProtocolError('PROTO_ERR_BAD_UTF8', `${field} holds a lone surrogate`);
    if (n > maxBytes) throw new ProtocolError('PROTO_ERR_LIMIT', `${field} is ${n} bytes, over ${maxBytes}`);
    const start = this.pos;
    this.varint(n);
    if (this.pos + n > this.maxBytes) {
      this.pos = start;
      this.overLimit(n + 1);
    }
    this.grow(n);
    if (n === s.length) {
      // ASCII: one byte per UTF-16 unit.
      const buf = this.buf;
      let pos = this.pos;
      for (let i = 0; i < n; i++) buf[pos++] = s.charCodeAt(i);
      this.pos = pos;
    } else {
      this.pos = writeUtf8(this.buf, this.pos, s);
    }
  }

  /** Raw bytes, no length prefix. */
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** A typed value: tag byte then payload [FP-5.2]; validates it first (see writeValue). */
  value(v: Value): void {
    writeValue(this, v);
  }

  /** Room for exactly `extra` more bytes, within maxBytes. */
  private ensure(extra: number): void {
    if (this.pos + extra > this.maxBytes) this.overLimit(extra);
    this.grow(extra);
  }

  private overLimit(extra: number): never {
    throw new ProtocolError('PROTO_ERR_LIMIT', `output would reach ${this.pos + extra} bytes, over ${this.maxBytes} [FP-9]`);
  }

  /** Capacity only: callers that write fewer bytes than they reserve check maxBytes themselves. */
  private grow(extra: number): void {
    const need = this.pos + extra;
    if (need <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(need, this.buf.length * 2));
    grown.set(this.buf.subarray(0, this.pos));
    this.buf = grown;
    this.view = new DataView(grown.buffer);
  }
}
