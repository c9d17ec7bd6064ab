import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { decode, encode, FLAG_RESEND, LIMITS, ProtocolError, type Capability, type Frame, type Value } from './index.js';
import { codeOf } from './test-support.js';

const float = (value: number): Value => ({ type: 'float', value });
const telemetry = (over: object = {}): Frame =>
  ({ type: 'telemetry', seq: 1, ts: 1_700_000_000_000, readings: [{ metric: 1, value: float(21.5) }], ...over }) as Frame;
const cap = (over: Partial<Capability> = {}): Capability => ({
  id: 1,
  name: 'temperature',
  unit: '°C',
  valueType: 'float',
  deviceClass: 'temperature',
  writable: false,
  event: false,
  ...over,
});
const hello = (capabilities: Capability[]): Frame => ({ type: 'hello', model: 'm', firmware: 'f', lastAckedSeq: 0, capabilities });

describe('encode refuses invalid frames with the code decode would give', () => {
  it('[FP-6.3][FP-8.1] TELEMETRY: seq 0, negative or fractional ts, no readings, 65 readings, metric over 255', () => {
    expect(codeOf(() => encode(telemetry({ seq: 0 })))).toBe('PROTO_ERR_BAD_FIELD');
    expect(codeOf(() => encode(telemetry({ ts: -1 })))).toBe('PROTO_ERR_BAD_FIELD');
    expect(codeOf(() => encode(telemetry({ ts: 1.5 })))).toBe('PROTO_ERR_BAD_FIELD');
    expect(codeOf(() => encode(telemetry({ readings: [] })))).toBe('PROTO_ERR_BAD_FIELD');
    const many = Array.from({ length: LIMITS.maxReadingsPerFrame + 1 }, () => ({ metric: 1, value: float(1) }));
    expect(codeOf(() => encode(telemetry({ readings: many })))).toBe('PROTO_ERR_LIMIT');
    expect(codeOf(() => encode(telemetry({ readings: [{ metric: 256, value: float(1) }] })))).toBe('PROTO_ERR_BAD_FIELD');
    expect(codeOf(() => encode(telemetry({ readings: [{ metric: 1, value: float(NaN) }] })))).toBe('PROTO_ERR_BAD_FLOAT');
  });

  it('[FP-6.4] BATCH: samples out of time order, more than maxBatchSamples, or a frame over maxFrameBytes', () => {
    const sample = (ts: number, value: Value = float(1)) => ({ ts, metric: 1, value });
    expect(codeOf(() => encode({ type: 'batch', seq: 1, samples: [sample(10), sample(9)] }))).toBe('PROTO_ERR_BAD_FIELD');
    const tooMany = Array.from({ length: LIMITS.maxBatchSamples + 1 }, (_, i) => sample(i));
    expect(codeOf(() => encode({ type: 'batch', seq: 1, samples: tooMany }))).toBe('PROTO_ERR_LIMIT');
    // 4096 samples of 20-byte strings: about 100 KB, over the 64 KiB frame limit.
    const big = Array.from({ length: LIMITS.maxBatchSamples }, (_, i) => sample(i, { type: 'string', value: 'x'.repeat(20) }));
    expect(codeOf(() => encode({ type: 'batch', seq: 1, samples: big }))).toBe('PROTO_ERR_LIMIT');
  });

  it('[FP-6.1] HELLO capabilities: names, duplicates, ranges, options and counts', () => {
    const cases: [Capability[], string][] = [
      [[cap({ name: 'Temperature' })], 'PROTO_ERR_BAD_FIELD'],
      [[cap({ name: 't'.repeat(33) })], 'PROTO_ERR_LIMIT'],
      [[cap(), cap({ name: 'other' })], 'PROTO_ERR_BAD_FIELD'],
      [[cap(), cap({ id: 2 })], 'PROTO_ERR_BAD_FIELD'],
      [[cap({ id: 256 })], 'PROTO_ERR_BAD_FIELD'],
      [[cap({ unit: 'u'.repeat(17) })], 'PROTO_ERR_LIMIT'],
      [[cap({ valueType: 'decimal' as never })], 'PROTO_ERR_BAD_FIELD'],
      [[cap({ min: 0 })], 'PROTO_ERR_BAD_FIELD'],
      [[cap({ min: 5, max: 1 })], 'PROTO_ERR_BAD_FIELD'],
      [[cap({ min: -Infinity, max: 1 })], 'PROTO_ERR_BAD_FLOAT'],
      [[cap({ valueType: 'string', min: 0, max: 1 })], 'PROTO_ERR_BAD_FIELD'],
      [[cap({ options: ['a'] })], 'PROTO_ERR_BAD_FIELD'],
      [[cap({ valueType: 'enum' })], 'PROTO_ERR_BAD_FIELD'],
      [[cap({ valueType: 'enum', options: [] })], 'PROTO_ERR_BAD_FIELD'],
      [[cap({ valueType: 'enum', options: Array.from({ length: 33 }, (_, i) => `o${i}`) })], 'PROTO_ERR_LIMIT'],
      [Array.from({ length: 65 }, (_, i) => cap({ id: i, name: `m${i}` })), 'PROTO_ERR_LIMIT'],
    ];
    for (const [caps, code] of cases) expect(codeOf(() => encode(hello(caps)))).toBe(code);
    const ok = [cap({ min: -40, max: 85 }), cap({ id: 2, name: 'mode', valueType: 'enum', options: Array.from({ length: 32 }, (_, i) => `o${i}`) })];
    expect(decode(encode(hello(ok)))).toEqual(hello(ok));
  });

  it('[FP-6.7][FP-6.9][FP-10.2] COMMAND_RESULT status, ERROR code, extension code', () => {
    expect(codeOf(() => encode({ type: 'command_result', id: 1, status: 'maybe' as never, message: '' }))).toBe('PROTO_ERR_BAD_FIELD');
    expect(codeOf(() => encode({ type: 'error', code: 'lower', message: '' }))).toBe('PROTO_ERR_BAD_FIELD');
    expect(codeOf(() => encode({ type: 'error', code: 'E'.repeat(33), message: '' }))).toBe('PROTO_ERR_LIMIT');
    expect(codeOf(() => encode({ type: 'error', code: 'E', message: 'm'.repeat(256) }))).toBe('PROTO_ERR_LIMIT');
    expect(codeOf(() => encode({ type: 'extension', code: 0x7f, payload: new Uint8Array() }))).toBe('PROTO_ERR_BAD_FIELD');
    expect(codeOf(() => encode({ type: 'extension', code: 0x80, payload: [1] as never }))).toBe('PROTO_ERR_BAD_FIELD');
  });

  it('[FP-3.2] an unknown frame type is PROTO_ERR_UNKNOWN_TYPE', () => {
    expect(codeOf(() => encode({ type: 'ping' } as never))).toBe('PROTO_ERR_UNKNOWN_TYPE');
    expect(codeOf(() => encode(null as never))).toBe('PROTO_ERR_UNKNOWN_TYPE');
  });

  it('[FP-11.2] throws nothing but ProtocolError, whatever it is given', () => {
    const types = ['hello', 'welcome', 'telemetry', 'batch', 'ack', 'command', 'command_result', 'event', 'error', 'extension', 'x'];
    const fields = ['model', 'firmware', 'lastAckedSeq', 'capabilities', 'hubTime', 'seq', 'ts', 'readings', 'samples', 'id', 'metric', 'value', 'status', 'message', 'code', 'payload', 'resend'];
    const junk = fc.tuple(fc.constantFrom(...types), fc.dictionary(fc.constantFrom(...fields), fc.anything({ withNullPrototype: true, withBigInt: true })));
    fc.assert(
      fc.property(junk, ([type, rest]) => {
        try {
          encode({ ...rest, type } as unknown as Frame);
        } catch (err) {
          expect(err).toBeInstanceOf(ProtocolError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('encode output', () => {
  it('[FP-6.3] a 2-float TELEMETRY with seq < 2^21 is 2 + 3 + 6 + 2 x 6 = 23 bytes', () => {
    const frame = telemetry({ seq: 2 ** 21 - 1, readings: [{ metric: 1, value: float(21.5) }, { metric: 2, value: float(48.25) }] });
    expect(encode(frame).length).toBe(2 + 3 + 6 + 2 * (1 + 1 + 4));
  });

  it('[FP-3.3] RESEND is written only when resend is true; decode leaves `resend` out otherwise', () => {
    const plain = encode(telemetry({ resend: false }));
    const resent = encode(telemetry({ resend: true }));
    expect(plain[0]! & FLAG_RESEND).toBe(0);
    expect(resent[0]! & FLAG_RESEND).toBe(FLAG_RESEND);
    expect(decode(plain)).not.toHaveProperty('resend');
    expect(decode(resent)).toHaveProperty('resend', true);
  });

  it('returns a fresh array each call: a later encode does not change an earlier result', () => {
    const first = encode(telemetry());
    const snapshot = Array.from(first);
    encode(telemetry({ seq: 99, readings: [{ metric: 7, value: { type: 'string', value: 'z'.repeat(200) } }] }));
    expect(Array.from(first)).toEqual(snapshot);
    expect(first.buffer.byteLength).toBe(first.length);
  });
});
