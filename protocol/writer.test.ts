import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { MAX_VARINT, Reader, Writer } from './index.js';
import { codeOf } from './test-support.js';

// Supplementary to properties.test.ts (which HEARTH_PROPERTY_RUNS scales): a fixed, quick count.
const numRuns = 2000;

/** Reference LEB128 on BigInt, independent of the Writer's split arithmetic. */
function referenceVarint(n: number): number[] {
  let v = BigInt(n);
  const out: number[] = [];
  do {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? b | 0x80 : b);
  } while (v > 0n);
  return out;
}

function written(fill: (w: Writer) => void): number[] {
  const w = new Writer(16);
  fill(w);
  return Array.from(w.toBytes());
}

describe('Writer.varint [FP-4.1]', () => {
  it('[FP-4.1] k bytes carry 7k bits: 2^(7k)-1 takes k bytes and 2^(7k) one more, up to MAX_VARINT in 8', () => {
    for (let k = 1; k <= 7; k++) {
      expect(written((w) => w.varint(2 ** (7 * k) - 1))).toHaveLength(k);
      expect(written((w) => w.varint(2 ** (7 * k)))).toHaveLength(k + 1);
    }
    expect(written((w) => w.varint(MAX_VARINT))).toHaveLength(8);
  });

  it('[FP-4.1] matches a BigInt LEB128 for every value in 0..2^53-1, including past 2^31', () => {
    const values = fc.oneof(fc.maxSafeNat(), fc.integer({ min: 2 ** 27, max: 2 ** 33 }), fc.nat({ max: 1 << 16 }));
    fc.assert(
      fc.property(values, (n) => {
        expect(written((w) => w.varint(n))).toEqual(referenceVarint(n));
      }),
      { numRuns },
    );
  });

  it('[FP-4.1] refuses negatives, fractions, NaN, infinities and values above 2^53-1 with PROTO_ERR_VARINT, writing nothing', () => {
    const w = new Writer();
    for (const bad of [-1, 0.5, NaN, Infinity, MAX_VARINT + 1, 2 ** 60]) {
      expect(codeOf(() => w.varint(bad))).toBe('PROTO_ERR_VARINT');
    }
    expect(w.length).toBe(0);
  });
});

describe('Writer fixed-width fields [FP-4.3]', () => {
  it('[FP-4.3] floats are IEEE 754 little-endian', () => {
    // 1.0f = 0x3f800000, -2.0 = 0xc000000000000000: the last byte carries the sign and exponent.
    expect(written((w) => w.float32(1))).toEqual([0x00, 0x00, 0x80, 0x3f]);
    expect(written((w) => w.float64(-2))).toEqual([0, 0, 0, 0, 0, 0, 0, 0xc0]);
  });

  it('[FP-4.3] u8 refuses anything but an integer 0..255', () => {
    for (const bad of [-1, 256, 1.5, NaN]) expect(codeOf(() => new Writer().u8(bad))).toBe('PROTO_ERR_BAD_FIELD');
  });
});

describe('Writer.string [FP-4.2]', () => {
  it('[FP-4.2] is a varint byte length then the UTF-8 bytes, ASCII and not', () => {
    for (const s of ['', 'temperature', '°C', '✓ ok', '🌡 24', 'a'.repeat(200)]) {
      const utf8 = Array.from(new TextEncoder().encode(s));
      expect(written((w) => w.string(s))).toEqual([...referenceVarint(utf8.length), ...utf8]);
    }
  });

  it('[FP-4.2] refuses a string over its byte limit (PROTO_ERR_LIMIT) and a lone surrogate (PROTO_ERR_BAD_UTF8), writing nothing', () => {
    const w = new Writer();
    expect(codeOf(() => w.string('é'.repeat(9), 17))).toBe('PROTO_ERR_LIMIT');
    expect(codeOf(() => w.string('a\ud800b'))).toBe('PROTO_ERR_BAD_UTF8');
    expect(codeOf(() => w.string('\udc00'))).toBe('PROTO_ERR_BAD_UTF8');
    expect(w.length).toBe(0);
    w.string('é'.repeat(8), 16);
    expect(w.length).toBe(17);
  });
});

describe('Writer buffer', () => {
  it('grows past its initial capacity and copies out exactly what was written', () => {
    const w = new Writer(16);
    for (let i = 0; i < 1000; i++) w.varint(i);
    const bytes = w.toBytes();
    const r = new Reader(bytes);
    for (let i = 0; i < 1000; i++) expect(r.varint()).toBe(i);
    r.expectEnd();
  });

  it('toBytes returns a copy; reset starts over on the same buffer', () => {
    const w = new Writer();
    w.u8(1);
    const first = w.toBytes();
    w.reset();
    w.u8(2);
    expect(Array.from(first)).toEqual([1]);
    expect(Array.from(w.toBytes())).toEqual([2]);
  });

  it('[FP-9] maxBytes: the write that would pass it throws PROTO_ERR_LIMIT and leaves the writer as it was', () => {
    const w = new Writer(4, 10);
    w.bytes(new Uint8Array(8));
    expect(codeOf(() => w.float32(1))).toBe('PROTO_ERR_LIMIT');
    expect(codeOf(() => w.varint(20_000))).toBe('PROTO_ERR_LIMIT');
    expect(codeOf(() => w.string('ab'))).toBe('PROTO_ERR_LIMIT');
    expect(w.length).toBe(8);
    w.varint(200);
    expect(w.length).toBe(10);
  });

  it('[FP-5.2] works standalone: values written one after another read back in order (storage chunks)', () => {
    const w = new Writer();
    const values = [
      { type: 'float', value: 21.5 },
      { type: 'int', value: -7 },
      { type: 'string', value: 'open' },
      { type: 'bool', value: true },
      { type: 'enum', value: 3 },
    ] as const;
    for (const v of values) {
      w.varint(1_700_000_000_000);
      w.value(v);
    }
    const r = new Reader(w.toBytes());
    for (const v of values) {
      expect(r.varint()).toBe(1_700_000_000_000);
      expect(r.value()).toEqual(v);
    }
    r.expectEnd();
  });
});
