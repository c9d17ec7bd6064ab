import { describe, expect, it } from '@jest/globals';
import { MAX_VARINT, Reader } from './index.js';
import { codeOf } from './test-support.js';

const reader = (...bytes: number[]) => new Reader(Uint8Array.from(bytes));

describe('Reader.varint [FP-4.1]', () => {
  it('[FP-4.1] decodes values past 2^31 exactly, up to 2^53-1 in 8 bytes', () => {
    // 2^35 + 1: bits 0 and 35, i.e. groups 0 (value 1) and 5 (value 1).
    expect(reader(0x81, 0x80, 0x80, 0x80, 0x80, 0x01).varint()).toBe(2 ** 35 + 1);
    expect(reader(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f).varint()).toBe(MAX_VARINT);
  });

  it('[FP-4.1] overlong, 9-byte and above-2^53-1 varints are PROTO_ERR_VARINT; input ending inside one is PROTO_ERR_TRUNCATED', () => {
    expect(codeOf(() => reader(0x80, 0x00).varint())).toBe('PROTO_ERR_VARINT');
    expect(codeOf(() => reader(0x81, 0x80, 0x00).varint())).toBe('PROTO_ERR_VARINT');
    expect(codeOf(() => reader(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80, 0x01).varint())).toBe('PROTO_ERR_VARINT');
    expect(codeOf(() => reader(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10).varint())).toBe('PROTO_ERR_VARINT');
    expect(codeOf(() => reader(0x80, 0x80).varint())).toBe('PROTO_ERR_TRUNCATED');
    expect(codeOf(() => reader().varint())).toBe('PROTO_ERR_TRUNCATED');
  });

  it('[FP-4.3] reads only inside [start, end): a field crossing `end` is truncated even if the array goes on', () => {
    const r = new Reader(Uint8Array.from([0xaa, 0x80, 0x01, 0x05]), 1, 2);
    expect(codeOf(() => r.varint())).toBe('PROTO_ERR_TRUNCATED');
    const whole = new Reader(Uint8Array.from([0xaa, 0x80, 0x01, 0x05]), 1, 3);
    expect(whole.varint()).toBe(128);
    expect(whole.remaining).toBe(0);
  });
});

describe('Reader fixed-width fields [FP-4.3]', () => {
  it('[FP-4.3] floats are little-endian; fewer bytes than the width is PROTO_ERR_TRUNCATED', () => {
    expect(reader(0x00, 0x00, 0x80, 0x3f).float32()).toBe(1);
    expect(reader(0, 0, 0, 0, 0, 0, 0, 0xc0).float64()).toBe(-2);
    expect(codeOf(() => reader(0, 0, 0x80).float32())).toBe('PROTO_ERR_TRUNCATED');
    expect(codeOf(() => reader(0, 0, 0, 0, 0, 0, 0).float64())).toBe('PROTO_ERR_TRUNCATED');
    expect(codeOf(() => reader().u8())).toBe('PROTO_ERR_TRUNCATED');
  });
});

describe('Reader.string [FP-4.2]', () => {
  const utf8 = (s: string) => Array.from(new TextEncoder().encode(s));

  it('[FP-4.2] decodes ASCII and multi-byte UTF-8, and keeps a leading U+FEFF (content, not a byte-order mark)', () => {
    for (const s of ['', 'humidity', '°C', '\ufeffbom', '🌡 24 °C ✓', 'x'.repeat(100)]) {
      const bytes = utf8(s);
      expect(reader(bytes.length, ...bytes).string()).toBe(s);
    }
  });

  it('[FP-4.2][FP-4.4] a length over the field limit is PROTO_ERR_LIMIT (checked first), past the input PROTO_ERR_LENGTH_OVERRUN', () => {
    expect(codeOf(() => reader(5, 0x41).string(4))).toBe('PROTO_ERR_LIMIT');
    expect(codeOf(() => reader(5, 0x41).string(5))).toBe('PROTO_ERR_LENGTH_OVERRUN');
  });

  it('[FP-4.2] malformed UTF-8 is PROTO_ERR_BAD_UTF8, also in long strings past the ASCII fast path', () => {
    expect(codeOf(() => reader(1, 0x80).string())).toBe('PROTO_ERR_BAD_UTF8');
    expect(codeOf(() => reader(40, ...new Array<number>(39).fill(0x41), 0xc3).string())).toBe('PROTO_ERR_BAD_UTF8');
  });

  it('reads from a Node Buffer at a non-zero byte offset (what ws hands the transport)', () => {
    const pool = Buffer.from([9, 9, 9, 3, 0x61, 0x62, 0x63]);
    const r = new Reader(pool.subarray(3));
    expect(r.string()).toBe('abc');
    r.expectEnd();
  });
});

describe('Reader.bytesOf and expectEnd', () => {
  it('[FP-4.4] bytesOf copies n bytes or throws PROTO_ERR_LENGTH_OVERRUN', () => {
    const source = Uint8Array.from([1, 2, 3]);
    const r = new Reader(source);
    const copy = r.bytesOf(2);
    source[0] = 99;
    expect(Array.from(copy)).toEqual([1, 2]);
    expect(codeOf(() => r.bytesOf(2))).toBe('PROTO_ERR_LENGTH_OVERRUN');
  });

  it('[FP-3.4] expectEnd throws PROTO_ERR_TRAILING_BYTES while bytes are left', () => {
    const r = reader(1, 2);
    r.u8();
    expect(codeOf(() => r.expectEnd())).toBe('PROTO_ERR_TRAILING_BYTES');
    r.u8();
    r.expectEnd();
    expect(r.remaining).toBe(0);
  });
});
