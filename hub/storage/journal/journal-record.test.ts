import { describe, expect, it } from '@jest/globals';
import type { CommitBatch } from '../types.js';
import { decodeRecord, encodeRecord, RECORD_HEADER_BYTES } from './journal-record.js';

const T0 = 1_700_000_000_000;

function sample(): CommitBatch {
  return {
    readings: [
      { series: 1, ts: T0 + 5, value: { type: 'float', value: 21.5 } },
      { series: 1, ts: T0, value: { type: 'float', value: 0.1 } }, // float64: not exact as float32
      { series: 300, ts: T0 + 1, value: { type: 'int', value: -(2 ** 52) } },
      { series: 2, ts: T0 + 2, value: { type: 'bool', value: true } },
      { series: 3, ts: T0 + 3, value: { type: 'enum', value: 255 } },
      { series: 4, ts: T0 + 4, value: { type: 'string', value: 'é'.repeat(100) } },
    ],
    events: [{ deviceId: 'dev-1', name: 'button', ts: T0 - 10, value: { type: 'enum', value: 2 } }],
    seqs: new Map([['dev-1', 9_007_199_254_740_991], ['dev-2', 1]]),
    lastSeen: new Map([['dev-1', T0 + 7], ['dev-3', T0]]),
  };
}

describe('ingest journal records', () => {
  it('round-trips readings of every value type, events, seqs and lastSeen (a device may have either)', () => {
    const bytes = encodeRecord(sample());
    const back = decodeRecord(bytes, 0);
    expect(back?.end).toBe(bytes.length);
    expect(back?.batch).toEqual(sample());
  });

  it('reads records one after another from their offsets', () => {
    const empty: CommitBatch = { readings: [], events: [], seqs: new Map(), lastSeen: new Map() };
    const a = encodeRecord(sample());
    const b = encodeRecord(empty);
    const both = Buffer.concat([a, b]);
    const first = decodeRecord(both, 0)!;
    expect(first.end).toBe(a.length);
    expect(decodeRecord(both, first.end)).toEqual({ batch: empty, end: both.length });
    expect(decodeRecord(both, both.length)).toBeUndefined();
  });

  it('gives undefined for a record cut short anywhere or with a byte changed (a crash mid-write), never a wrong batch', () => {
    const bytes = encodeRecord(sample());
    for (let cut = 0; cut < bytes.length; cut++) expect(decodeRecord(bytes.subarray(0, cut), 0)).toBeUndefined();
    for (let i = 0; i < bytes.length; i++) {
      const bad = Buffer.from(bytes);
      bad[i] = bad[i]! ^ 0x40;
      expect(decodeRecord(bad, 0)).toBeUndefined();
    }
  });

  it('refuses, writing nothing, what the database would refuse: a negative timestamp, a string over 255 bytes, NaN', () => {
    const bad = (b: Partial<CommitBatch>): CommitBatch => ({ ...sample(), ...b });
    expect(() => encodeRecord(bad({ readings: [{ series: 1, ts: -1, value: { type: 'float', value: 1 } }] }))).toThrow();
    expect(() => encodeRecord(bad({ readings: [{ series: 1, ts: T0, value: { type: 'string', value: 'x'.repeat(256) } }] }))).toThrow();
    expect(() => encodeRecord(bad({ readings: [{ series: 1, ts: T0, value: { type: 'float', value: Number.NaN } }] }))).toThrow();
    // The scratch writer is reused: a refusal leaves the next record whole.
    expect(decodeRecord(encodeRecord(sample()), 0)?.batch).toEqual(sample());
  });

  it('costs a few bytes per reading: 2 float32 readings, a seq and a lastSeen in under 50 bytes', () => {
    const batch: CommitBatch = {
      readings: [
        { series: 17, ts: T0, value: { type: 'float', value: 21.5 } },
        { series: 18, ts: T0, value: { type: 'float', value: 48 } },
      ],
      events: [],
      seqs: new Map([['sensor-0042', 1234]]),
      lastSeen: new Map([['sensor-0042', T0]]),
    };
    const bytes = encodeRecord(batch);
    expect(bytes.length - RECORD_HEADER_BYTES).toBeLessThan(42);
    expect(decodeRecord(bytes, 0)?.batch).toEqual(batch);
  });
});
