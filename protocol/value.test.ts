import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { checkValue, INT_MAX, INT_MIN, Reader, readValue, VALUE_TAGS, Writer, writeValue, type Value } from './index.js';
import { codeOf } from './test-support.js';

// Supplementary to properties.test.ts (which HEARTH_PROPERTY_RUNS scales): a fixed, quick count.
const numRuns = 2000;

function bytesOf(v: Value): Uint8Array {
  const w = new Writer();
  writeValue(w, v);
  return w.toBytes();
}

function roundTrip(v: Value): Value {
  const r = new Reader(bytesOf(v));
  const out = readValue(r);
  r.expectEnd();
  return out;
}

describe('int values [FP-5.3]', () => {
  it('[FP-5.3] zigzag by arithmetic: n >= 0 -> 2n, n < 0 -> -2n-1, exact over INT_MIN..INT_MAX', () => {
    const ints = fc.oneof(fc.bigInt({ min: BigInt(INT_MIN), max: BigInt(INT_MAX) }).map(Number), fc.constantFrom(INT_MIN, INT_MAX, -1, 0, 1));
    fc.assert(
      fc.property(ints, (n) => {
        const bytes = bytesOf({ type: 'int', value: n });
        expect(bytes[0]).toBe(VALUE_TAGS.int);
        const r = new Reader(bytes, 1);
        const zigzag = BigInt(n) >= 0n ? 2n * BigInt(n) : -2n * BigInt(n) - 1n;
        expect(BigInt(r.varint())).toBe(zigzag);
        expect(roundTrip({ type: 'int', value: n })).toEqual({ type: 'int', value: n });
      }),
      { numRuns },
    );
  });

  it('[FP-5.3] INT_MIN and INT_MAX take the largest varints, 2^53-1 and 2^53-2', () => {
    expect(new Reader(bytesOf({ type: 'int', value: INT_MIN }), 1).varint()).toBe(2 ** 53 - 1);
    expect(new Reader(bytesOf({ type: 'int', value: INT_MAX }), 1).varint()).toBe(2 ** 53 - 2);
  });

  it('[FP-5.3] encode refuses fractions and values outside INT_MIN..INT_MAX with PROTO_ERR_BAD_FIELD', () => {
    for (const value of [1.5, INT_MAX + 1, INT_MIN - 1, NaN, Infinity]) {
      expect(codeOf(() => bytesOf({ type: 'int', value }))).toBe('PROTO_ERR_BAD_FIELD');
    }
  });
});

describe('float values [FP-5.4]', () => {
  it('[FP-5.4] float32 exactly when Math.fround(x) === x, else float64; both decode to the same number', () => {
    const floats = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.float({ noNaN: true, noDefaultInfinity: true }));
    fc.assert(
      fc.property(floats, (x) => {
        const bytes = bytesOf({ type: 'float', value: x });
        const single = Math.fround(x) === x;
        expect(bytes[0]).toBe(single ? VALUE_TAGS.float32 : VALUE_TAGS.float64);
        expect(bytes.length).toBe(single ? 5 : 9);
        expect(Object.is(roundTrip({ type: 'float', value: x }).value, x)).toBe(true);
      }),
      { numRuns },
    );
  });

  it('[FP-5.4] -0 stays -0 (float32 keeps the sign bit)', () => {
    const bytes = bytesOf({ type: 'float', value: -0 });
    expect(bytes[0]).toBe(VALUE_TAGS.float32);
    expect(Object.is(roundTrip({ type: 'float', value: -0 }).value, -0)).toBe(true);
  });

  it('[FP-5.4] NaN and infinities are refused with PROTO_ERR_BAD_FLOAT and nothing is written', () => {
    const w = new Writer();
    for (const value of [NaN, Infinity, -Infinity]) {
      expect(codeOf(() => writeValue(w, { type: 'float', value }))).toBe('PROTO_ERR_BAD_FLOAT');
    }
    expect(w.length).toBe(0);
  });
});

describe('other values [FP-5.2][FP-5.5]', () => {
  it('[FP-5.2] bool is a bare tag: 0x00 false, 0x01 true', () => {
    expect(Array.from(bytesOf({ type: 'bool', value: false }))).toEqual([VALUE_TAGS.false]);
    expect(Array.from(bytesOf({ type: 'bool', value: true }))).toEqual([VALUE_TAGS.true]);
  });

  it('[FP-5.5] strings up to 255 bytes and enum indexes up to 255 round-trip; one more is refused', () => {
    for (const v of [{ type: 'string', value: 'é'.repeat(127) + 'a' }, { type: 'enum', value: 255 }, { type: 'enum', value: 0 }] as Value[]) {
      expect(roundTrip(v)).toEqual(v);
    }
    expect(codeOf(() => bytesOf({ type: 'string', value: 'é'.repeat(128) }))).toBe('PROTO_ERR_LIMIT');
    expect(codeOf(() => bytesOf({ type: 'enum', value: 256 }))).toBe('PROTO_ERR_BAD_FIELD');
    expect(codeOf(() => bytesOf({ type: 'enum', value: -1 }))).toBe('PROTO_ERR_BAD_FIELD');
  });

  it('[FP-5.2] a value of the wrong JavaScript type or an unknown type is PROTO_ERR_BAD_FIELD', () => {
    const bad = [
      { type: 'bool', value: 1 },
      { type: 'float', value: '1' },
      { type: 'string', value: 5 },
      { type: 'decimal', value: 1 },
      null,
    ] as unknown as Value[];
    for (const v of bad) expect(codeOf(() => bytesOf(v))).toBe('PROTO_ERR_BAD_FIELD');
  });

  it('checkValue refuses exactly what writeValue refuses, with the same code', () => {
    const candidates = fc.record({
      type: fc.constantFrom('bool', 'int', 'float', 'string', 'enum', 'other'),
      value: fc.oneof(fc.boolean(), fc.double(), fc.integer(), fc.string({ maxLength: 300 }), fc.constant(null)),
    }) as fc.Arbitrary<Value>;
    fc.assert(
      fc.property(candidates, (v) => {
        expect(codeOf(() => checkValue(v))).toBe(codeOf(() => bytesOf(v)));
      }),
      { numRuns },
    );
  });
});
