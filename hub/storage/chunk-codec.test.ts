import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { INT_MAX, INT_MIN, MAX_VARINT } from '../../protocol/index.js';
import type { Value } from '../../protocol/types.js';
import { CHUNK_FORMAT, decodeChunk, encodeChunk, unzigzag, zigzag } from './chunk-codec.js';
import { StoreError } from './errors.js';
import { prng } from './testing/store-fixture.js';

const valueArb: Record<Value['type'], fc.Arbitrary<Value>> = {
  bool: fc.boolean().map((value) => ({ type: 'bool', value })),
  int: fc.oneof(fc.integer(), fc.integer({ min: INT_MIN, max: INT_MAX })).map((value) => ({ type: 'int', value })),
  float: fc
    .oneof(
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.float({ noNaN: true, noDefaultInfinity: true }),
      fc.integer({ min: -1_000_000, max: 1_000_000 }).map((n) => n / 100),
      fc.integer({ min: -1_000_000, max: 1_000_000 }).map((n) => Math.fround(n / 100)),
    )
    .map((value) => ({ type: 'float', value })),
  string: fc.string({ unit: 'grapheme', maxLength: 40 }).map((value) => ({ type: 'string', value })),
  enum: fc.integer({ min: 0, max: 255 }).map((value) => ({ type: 'enum', value })),
};

/** Sorted timestamps anywhere in the varint range, from steady rates to wild jumps. */
function sortedTs(n: number): fc.Arbitrary<number[]> {
  return fc.oneof(
    fc.array(fc.integer({ min: 0, max: MAX_VARINT }), { minLength: n, maxLength: n }).map((a) => a.sort((x, y) => x - y)),
    fc
      .tuple(fc.integer({ min: 0, max: 2 ** 42 }), fc.integer({ min: 0, max: 100_000 }), fc.array(fc.integer({ min: -50, max: 50 }), { minLength: n, maxLength: n }))
      .map(([start, step, jitter]) => {
        let t = start;
        return jitter.map((j) => (t += Math.max(0, step + j)));
      }),
  );
}

function chunkArb(values: fc.Arbitrary<Value>): fc.Arbitrary<{ ts: number[]; values: Value[] }> {
  return fc
    .integer({ min: 1, max: 60 })
    .chain((n) => fc.record({ ts: sortedTs(n), values: fc.array(values, { minLength: n, maxLength: n }) }));
}

describe('chunk codec', () => {
  it.each(Object.keys(valueArb) as Array<Value['type']>)('round-trips %s series exactly (property)', (type) => {
    fc.assert(
      fc.property(chunkArb(valueArb[type]), ({ ts, values }) => {
        const decoded = decodeChunk(encodeChunk(ts, values));
        expect(decoded.ts).toEqual(ts);
        expect(decoded.values).toEqual(values); // toEqual tells -0 from 0
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips chunks mixing value types (a series whose type changed)', () => {
    fc.assert(
      fc.property(chunkArb(fc.oneof(...Object.values(valueArb))), ({ ts, values }) => {
        const decoded = decodeChunk(encodeChunk(ts, values));
        expect(decoded).toEqual({ ts, values });
      }),
    );
  });

  it('zigzag maps signed to unsigned and back across the 53-bit range', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 52), max: 2 ** 52 - 1 }), (d) => {
        const z = zigzag(d);
        expect(z).toBeGreaterThanOrEqual(0);
        expect(z).toBeLessThanOrEqual(MAX_VARINT);
        expect(unzigzag(z)).toBe(d);
      }),
    );
    expect([0, -1, 1, -2, 2].map(zigzag)).toEqual([0, 1, 2, 3, 4]);
  });

  it('refuses unsorted timestamps and empty chunks', () => {
    expect(() => encodeChunk([2, 1], [{ type: 'bool', value: true }, { type: 'bool', value: false }])).toThrow(RangeError);
    expect(() => encodeChunk([], [])).toThrow(RangeError);
  });

  it('any byte string decodes to a chunk or throws HUB_ERR_CHUNK_CORRUPT, nothing else (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.boolean(), (bytes, withHeader) => {
        const input = withHeader ? Uint8Array.from([CHUNK_FORMAT, ...bytes]) : bytes;
        try {
          const { ts, values } = decodeChunk(input);
          expect(ts.length).toBe(values.length);
        } catch (err) {
          expect(err).toBeInstanceOf(StoreError);
          expect((err as StoreError).code).toBe('HUB_ERR_CHUNK_CORRUPT');
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('detects a truncated chunk', () => {
    const bytes = encodeChunk([1000, 2000, 3000], [1, 2, 3].map((value) => ({ type: 'int', value })));
    for (let cut = 0; cut < bytes.length; cut++) {
      expect(() => decodeChunk(bytes.subarray(0, cut))).toThrow(StoreError);
    }
  });

  it('measures bytes per reading of typical series (asserts only the round trip)', () => {
    const rand = prng(42);
    const n = 128;
    const ts = Array.from({ length: n }, (_, i) => 1_700_000_000_000 + i * 10_000 + Math.floor(rand() * 20));
    let temp = 21.5;
    const cases: Record<string, Value[]> = {
      'slow float, 2 decimals': ts.map(() => ({ type: 'float', value: Math.round((temp += (rand() - 0.5) * 0.1) * 100) / 100 })),
      'slow float32 from the wire': ts.map(() => ({ type: 'float', value: Math.fround((temp += (rand() - 0.5) * 0.1)) })),
      'int counter': ts.map((_, i) => ({ type: 'int', value: 1000 + i * 3 })),
      bool: ts.map(() => ({ type: 'bool', value: rand() < 0.1 })),
    };
    const report: string[] = [];
    for (const [name, values] of Object.entries(cases)) {
      const bytes = encodeChunk(ts, values);
      expect(decodeChunk(bytes)).toEqual({ ts, values });
      report.push(`${name}: ${(bytes.length / n).toFixed(2)} B/reading`);
    }
    process.stdout.write(`chunk codec, ${n} readings every ~10 s: ${report.join('; ')}\n`);
  });
});
