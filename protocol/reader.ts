import { LIMITS, MAX_VARINT } from './constants.js';
import { ProtocolError } from './errors.js';
import type { Value } from './types.js';
import { readUtf8 } from './utf8.js';
import { readValue } from './value.js';

const f32 = new Float32Array(1);
const f64 = new Float64Array(1);
const f32Bytes = new Uint8Array(f32.buffer);
const f64Bytes = new Uint8Array(f64.buffer);
// The wire is little-endian [FP-4.3].
const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Reads protocol primitives from bytes[start, end), advancing `pos`. Every method throws only
 * ProtocolError. Usable standalone (the hub's storage reads its chunks with it).
 */
export class Reader {
  readonly bytes: Uint8Array;
  pos: number;
  readonly end: number;

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    this.bytes = bytes;
    this.pos = start;
    this.end = end;
  }

  /** Bytes not read yet. */
  get remaining(): number {
    return this.end - this.pos;
  }

  /** Unsigned byte; PROTO_ERR_TRUNCATED at the end of input [FP-4.3]. */
  u8(): number {
    if (this.pos >= this.end) throw truncated('a byte');
    return this.bytes[this.pos++]!;
  }

  /**
   * Unsigned LEB128 [FP-4.1]: at most 8 bytes, canonical (no final 0x00 byte after the first), at
   * most MAX_VARINT, else PROTO_ERR_VARINT; input ending inside it is PROTO_ERR_TRUNCATED.
   */
  varint(): number {
    const bytes = this.bytes;
    const end = this.end;
    let pos = this.pos;
    if (pos >= end) throw truncated('a varint');
    let b = bytes[pos++]!;
    if (b < 0x80) {
      this.pos = pos;
      return b;
    }
    // Multiplication, not shifts: values reach 2^53 and bitwise operators stop at 2^31 [FP-4.1].
    let value = b & 0x7f;
    let scale = 128;
    for (let i = 1; ; i++) {
      if (pos >= end) throw truncated('a varint');
      b = bytes[pos++]!;
      value += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (b === 0) throw new ProtocolError('PROTO_ERR_VARINT', 'overlong varint (final byte 0x00) [FP-4.1]');
        if (value > MAX_VARINT) throw new ProtocolError('PROTO_ERR_VARINT', 'varint above 2^53-1 [FP-4.1]');
        this.pos = pos;
        return value;
      }
      if (i === 7) throw new ProtocolError('PROTO_ERR_VARINT', 'varint longer than 8 bytes [FP-4.1]');
      scale *= 128;
    }
  }

  /** IEEE 754 single, little-endian [FP-4.3]; may be NaN or infinite (readValue refuses those). */
  float32(): number {
    this.copyScratch(f32Bytes, 4);
    return f32[0]!;
  }

  /** IEEE 754 double, little-endian [FP-4.3]. */
  float64(): number {
    this.copyScratch(f64Bytes, 8);
    return f64[0]!;
  }

  /**
   * Varint length then strict UTF-8 [FP-4.2]: PROTO_ERR_LIMIT beyond `maxBytes`, PROTO_ERR_LENGTH_OVERRUN
   * beyond the input [FP-4.4], PROTO_ERR_BAD_UTF8 for malformed UTF-8.
   */
  string(maxBytes: number = LIMITS.maxStringBytes, field = 'string'): string {
    const n = this.varint();
    if (n > maxBytes) throw new ProtocolError('PROTO_ERR_LIMIT', `${field} is ${n} bytes, over ${maxBytes} [FP-4.2]`);
    const start = this.pos;
    if (n > this.end - start) {
      throw new ProtocolError('PROTO_ERR_LENGTH_OVERRUN', `${field} declares ${n} bytes, ${this.end - start} left [FP-4.4]`);
    }
    const s = readUtf8(this.bytes, start, start + n);
    if (s === undefined) throw new ProtocolError('PROTO_ERR_BAD_UTF8', `${field} is not valid UTF-8 [FP-4.2]`);
    this.pos = start + n;
    return s;
  }

  /** A copy of the next `n` bytes; PROTO_ERR_LENGTH_OVERRUN when fewer are left [FP-4.4]. */
  bytesOf(n: number): Uint8Array {
    if (n > this.end - this.pos) {
      throw new ProtocolError('PROTO_ERR_LENGTH_OVERRUN', `${n} bytes declared, ${this.end - this.pos} left [FP-4.4]`);
    }
    const out = new Uint8Array(n);
    out.set(this.bytes.subarray(this.pos, this.pos + n));
    this.pos += n;
    return out;
  }

  /** A typed value [FP-5.2] (see readValue). */
  value(): Value {
    return readValue(this);
  }

  /** PROTO_ERR_TRAILING_BYTES unless every byte was read [FP-3.4]. */
  expectEnd(): void {
    if (this.pos !== this.end) {
      throw new ProtocolError('PROTO_ERR_TRAILING_BYTES', `${this.end - this.pos} bytes after the last field [FP-3.4]`);
    }
  }

  private copyScratch(scratch: Uint8Array, n: number): void {
    const pos = this.pos;
    if (this.end - pos < n) throw truncated(`a ${n}-byte float`);
    const bytes = this.bytes;
    if (HOST_LE) for (let i = 0; i < n; i++) scratch[i] = bytes[pos + i]!;
    else for (let i = 0; i < n; i++) scratch[n - 1 - i] = bytes[pos + i]!;
    this.pos = pos + n;
  }
}

function truncated(what: string): ProtocolError {
  return new ProtocolError('PROTO_ERR_TRUNCATED', `input ends inside ${what} [FP-4.3]`);
}
