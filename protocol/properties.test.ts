// fast-check properties [FP-12]: (a) any byte string decodes to a frame or throws ProtocolError, and
// a frame decode accepts is one encode accepts and reproduces; (b) decode(encode(f)) is f for any valid f.
// HEARTH_PROPERTY_RUNS sets the runs per property (CI: enough for >= 100,000 cases in total).
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  decode,
  encode,
  fromHex,
  INT_MAX,
  INT_MIN,
  LIMITS,
  MAX_VARINT,
  OTA_FRAME_TYPE_CODES,
  ProtocolError,
  utf8ByteLength,
  type Capability,
  type CommandStatus,
  type Frame,
  type Value,
  type ValueType,
} from './index.js';
import { codeOf } from './test-support.js';
import { otaFrameArbs } from './testing/ota-arbitraries.js';

const numRuns = Number(process.env.HEARTH_PROPERTY_RUNS ?? 10_000);

/**
 * Strict structural equality (Object.is on numbers, so -0 differs from 0; same prototypes; same own keys),
 * much cheaper than expect().toStrictEqual on hundreds of thousands of cases; expectSame falls back to
 * toStrictEqual only on a mismatch, for jest's diff.
 */
function same(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (a instanceof Uint8Array) return a.length === (b as Uint8Array).length && a.every((x, i) => x === (b as Uint8Array)[i]);
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function expectSame(actual: unknown, expected: unknown): void {
  if (!same(actual, expected)) expect(actual).toStrictEqual(expected);
}

/** fc.record with ordinary prototypes: decode returns plain objects, and toStrictEqual compares prototypes. */
function record<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true });
}

// ---- arbitraries: every frame type, each field over its whole valid range --------------------------

/** Unsigned integers from `min` to MAX_VARINT, biased to the varint length boundaries [FP-4.1]. */
function uint(min = 0): fc.Arbitrary<number> {
  return fc.oneof(
    fc.integer({ min, max: 300 }),
    fc.integer({ min: Math.max(min, 0), max: 2 ** 31 - 1 }),
    fc.maxSafeNat().filter((n) => n >= min),
    fc.constantFrom(...[0, 127, 128, 16383, 16384, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 49 - 1, 2 ** 49, MAX_VARINT].filter((n) => n >= min)),
  );
}

/** Strings of at most `maxBytes` of UTF-8: ASCII up to the limit, or any code points (1-4 bytes each). */
function utf8String(maxBytes: number): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ unit: 'binary-ascii', maxLength: maxBytes }),
    fc.string({ unit: 'binary', maxLength: Math.floor(maxBytes / 2) }).filter((s) => utf8ByteLength(s) <= maxBytes),
  );
}

const intValue = fc.oneof(
  fc.integer(),
  fc.bigInt({ min: BigInt(INT_MIN), max: BigInt(INT_MAX) }).map(Number),
  fc.constantFrom(INT_MIN, INT_MAX, -1, 0, 1),
);
const floatValue = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.float({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(-0, 0, 21.5, 0.1, 3.4028234663852886e38, 5e-324),
);
const valueArb: fc.Arbitrary<Value> = fc.oneof(
  fc.boolean().map((value): Value => ({ type: 'bool', value })),
  intValue.map((value): Value => ({ type: 'int', value })),
  floatValue.map((value): Value => ({ type: 'float', value })),
  utf8String(LIMITS.maxStringBytes).map((value): Value => ({ type: 'string', value })),
  fc.integer({ min: 0, max: 255 }).map((value): Value => ({ type: 'enum', value })),
);
const byte = fc.integer({ min: 0, max: 255 });
const resendArb = fc.boolean().map((resend) => (resend ? { resend: true } : {}));

const finite = fc.double({ noNaN: true, noDefaultInfinity: true });
const capabilityArb: fc.Arbitrary<Capability> = fc
  .record({
    id: byte,
    name: fc.stringMatching(/^[a-z][a-z0-9_]{0,31}$/),
    unit: utf8String(LIMITS.maxUnitBytes),
    valueType: fc.constantFrom<ValueType>('bool', 'int', 'float', 'string', 'enum'),
    deviceClass: utf8String(LIMITS.maxNameBytes),
    writable: fc.boolean(),
    event: fc.boolean(),
    range: fc.option(fc.tuple(finite, finite).map(([a, b]) => (a <= b ? [a, b] : [b, a]))),
    // [FP-6.1] options are non-empty and unique.
    options: fc.uniqueArray(utf8String(LIMITS.maxNameBytes).filter((o) => o !== ''), { minLength: 1, maxLength: 8 }),
  })
  .map(({ range, options, ...cap }): Capability => ({
    ...cap,
    ...(range && (cap.valueType === 'int' || cap.valueType === 'float') ? { min: range[0], max: range[1] } : {}),
    ...(cap.valueType === 'enum' ? { options } : {}),
  }));

/** Sorted timestamps: either anywhere in 0..MAX_VARINT or a realistic run of small steps. */
const timestamps = fc.oneof(
  fc.array(fc.maxSafeNat(), { maxLength: 40 }).map((ts) => ts.sort((a, b) => a - b)),
  fc.tuple(uint(), fc.array(fc.integer({ min: 0, max: 120_000 }), { maxLength: 40 })).map(([base, deltas]) => {
    let ts = Math.min(base, MAX_VARINT - 120_000 * 40);
    return deltas.map((d) => (ts += d));
  }),
);

const frameArbs: Record<Frame['type'], fc.Arbitrary<Frame>> = {
  hello: record({
    type: fc.constant('hello' as const),
    model: utf8String(LIMITS.maxModelBytes),
    firmware: utf8String(LIMITS.maxFirmwareBytes),
    lastAckedSeq: uint(),
    capabilities: fc.uniqueArray(capabilityArb, {
      maxLength: 12,
      comparator: (a, b) => a.id === b.id || a.name === b.name,
    }),
  }).chain((hello) => fc.boolean().map((updates): Frame => (updates ? { ...hello, updates } : hello))),
  welcome: fc
    .tuple(
      record({
        type: fc.constant('welcome' as const),
        hubTime: uint(),
        heartbeatMs: uint(),
        nextSeq: uint(),
        maxFrameBytes: uint(),
        maxReadingsPerFrame: uint(),
        maxBatchSamples: uint(),
        maxFramesPerSecond: uint(),
      }),
      // [FP-6.2] the 1.1 field commandTimeoutMs: absent (a 1.0 WELCOME) or any varint.
      fc.option(uint(), { nil: undefined }),
    )
    .map(([welcome, commandTimeoutMs]): Frame => (commandTimeoutMs === undefined ? welcome : { ...welcome, commandTimeoutMs })),
  telemetry: fc
    .tuple(uint(1), uint(), fc.array(record({ metric: byte, value: valueArb }), { minLength: 1, maxLength: LIMITS.maxReadingsPerFrame }), resendArb)
    .map(([seq, ts, readings, resend]): Frame => ({ type: 'telemetry', seq, ts, readings, ...resend })),
  batch: fc
    .tuple(uint(1), timestamps.chain((ts) => fc.tuple(...ts.map((t) => record({ ts: fc.constant(t), metric: byte, value: valueArb })))), resendArb)
    .map(([seq, samples, resend]): Frame => ({ type: 'batch', seq, samples, ...resend })),
  ack: record({ type: fc.constant('ack' as const), seq: uint() }),
  command: record({ type: fc.constant('command' as const), id: uint(), metric: byte, value: valueArb }),
  command_result: record({
    type: fc.constant('command_result' as const),
    id: uint(),
    status: fc.constantFrom<CommandStatus>('ok', 'invalid', 'failed', 'unsupported', 'busy'),
    message: utf8String(LIMITS.maxMessageBytes),
  }),
  event: fc
    .tuple(uint(1), uint(), byte, valueArb, resendArb)
    .map(([seq, ts, metric, value, resend]): Frame => ({ type: 'event', seq, ts, metric, value, ...resend })),
  error: record({
    type: fc.constant('error' as const),
    code: fc.stringMatching(/^[A-Z][A-Z0-9_]{0,31}$/),
    message: utf8String(LIMITS.maxMessageBytes),
  }),
  extension: record({
    type: fc.constant('extension' as const),
    code: fc.integer({ min: 0x80, max: 0xff }).filter((code) => !Object.values<number>(OTA_FRAME_TYPE_CODES).includes(code)),
    payload: fc.uint8Array({ maxLength: 64 }),
  }),
  ...otaFrameArbs(uint, utf8String),
};
const anyFrame = fc.oneof(...Object.values(frameArbs));

// ---- byte-string arbitraries for the decoder ---------------------------------------------------------

const here = fileURLToPath(new URL('.', import.meta.url));
const vectorFile = JSON.parse(readFileSync(`${here}vectors.json`, 'utf8')) as Record<string, { hex: string }[]>;
const vectorBytes = Object.values(vectorFile).flatMap((list) => list.map((v) => fromHex(v.hex)));

type Mutation = { op: 'set' | 'insert' | 'delete' | 'truncate'; at: number; byte: number };
const mutations = fc.array(
  record({ op: fc.constantFrom<Mutation['op']>('set', 'insert', 'delete', 'truncate'), at: fc.nat(), byte }),
  { minLength: 1, maxLength: 4 },
);

function mutate(input: Uint8Array, ops: Mutation[]): Uint8Array {
  let bytes = Array.from(input);
  for (const { op, at, byte: b } of ops) {
    const i = bytes.length === 0 ? 0 : at % (bytes.length + (op === 'insert' ? 1 : 0));
    if (op === 'set' && bytes.length > 0) bytes[i] = b;
    else if (op === 'insert') bytes.splice(i, 0, b);
    else if (op === 'delete') bytes.splice(i, 1);
    else if (op === 'truncate') bytes = bytes.slice(0, i);
  }
  return Uint8Array.from(bytes);
}

const byteStrings = {
  'arbitrary bytes': fc.uint8Array({ maxLength: 300 }),
  'mutated test vectors': fc.tuple(fc.constantFrom(...vectorBytes), mutations).map(([v, ops]) => mutate(v, ops)),
  'mutated encodings of random frames': fc.tuple(anyFrame, mutations).map(([f, ops]) => mutate(encode(f), ops)),
  'a valid header then small numbers': fc
    .tuple(fc.integer({ min: 0x10, max: 0x1f }), fc.integer({ min: 0, max: 0x0a }), fc.array(fc.integer({ min: 0, max: 8 }), { maxLength: 60 }))
    .map(([h, t, rest]) => Uint8Array.from([h, t, ...rest])),
  'a valid header then arbitrary bytes': fc
    .tuple(fc.integer({ min: 0x10, max: 0x1f }), fc.integer({ min: 0, max: 0x0a }), fc.uint8Array({ maxLength: 200 }))
    .map(([h, t, rest]) => Uint8Array.from([h, t, ...rest])),
  'an update frame header then arbitrary bytes': fc
    .tuple(fc.integer({ min: 0x10, max: 0x1f }), fc.constantFrom(...Object.values<number>(OTA_FRAME_TYPE_CODES)), fc.uint8Array({ maxLength: 120 }))
    .map(([h, t, rest]) => Uint8Array.from([h, t, ...rest])),
};

/** Decodes `bytes`: a ProtocolError passes; a frame must be one encode accepts and decode reproduces. */
function decodesOrRefuses(bytes: Uint8Array): void {
  let frame: Frame;
  try {
    frame = decode(bytes);
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    return;
  }
  expectSame(decode(encode(frame)), frame);
}

describe('decode never throws anything but ProtocolError [FP-11.2]', () => {
  for (const [name, arb] of Object.entries(byteStrings)) {
    it(`[FP-3.4][FP-11.2] ${name}: a frame (that encode accepts and reproduces) or a ProtocolError`, () => {
      fc.assert(fc.property(arb, decodesOrRefuses), { numRuns });
    });
  }
});

describe('decode(encode(frame)) is the frame [FP-6]', () => {
  it('[FP-6] every frame type, every field over its valid range', () => {
    fc.assert(
      fc.property(anyFrame, (frame) => {
        expectSame(decode(encode(frame)), frame);
      }),
      { numRuns },
    );
  });
});

describe('protocol 1.1 changes to frames [FP-6.1] [FP-6.2] [FP-10.2]', () => {
  const welcome10 = frameArbs.welcome.map((f) => {
    const { commandTimeoutMs: _dropped, ...v10 } = f as Extract<Frame, { type: 'welcome' }>;
    return v10;
  });

  it('[FP-10.2][FP-6.2] a 1.1 WELCOME is its 1.0 bytes with commandTimeoutMs appended, and a 1.0 WELCOME decodes without it', () => {
    fc.assert(
      fc.property(welcome10, uint(), (v10, commandTimeoutMs) => {
        const old = encode(v10);
        const v11 = encode({ ...v10, commandTimeoutMs });
        expectSame(v11.subarray(0, old.length), old);
        expectSame(decode(old), v10);
        expectSame(decode(v11), { ...v10, commandTimeoutMs });
      }),
      { numRuns },
    );
  });

  it('[FP-6.1] an enum capability with an empty or repeated option is refused by encode and by decode', () => {
    const enumCap = capabilityArb.filter((c) => c.valueType === 'enum' && c.options!.length < LIMITS.maxEnumOptions);
    fc.assert(
      fc.property(enumCap, fc.nat(), fc.boolean(), (cap, at, empty) => {
        const options = [...cap.options!];
        options.splice(at % (options.length + 1), 0, empty ? '' : options[at % options.length]!);
        const hello: Frame = { type: 'hello', model: 'm', firmware: 'f', lastAckedSeq: 0, capabilities: [{ ...cap, options }] };
        expect(codeOf(() => encode(hello))).toBe('PROTO_ERR_BAD_FIELD');
        // The same bytes as the encoder would write them, with the bad option list.
        const good = encode({ ...hello, capabilities: [{ ...cap, options: ['x'] }] });
        const tail = options.flatMap((o) => [...varintBytes(utf8ByteLength(o)), ...new TextEncoder().encode(o)]);
        const bytes = Uint8Array.from([...good.subarray(0, good.length - 3), options.length, ...tail]);
        expect(codeOf(() => decode(bytes))).toBe('PROTO_ERR_BAD_FIELD');
      }),
      { numRuns: Math.ceil(numRuns / 10) },
    );
  });
});

/** The LEB128 bytes of a small length [FP-4.1]. */
function varintBytes(n: number): number[] {
  const out: number[] = [];
  do {
    out.push((n & 0x7f) | (n >= 0x80 ? 0x80 : 0));
    n >>>= 7;
  } while (n > 0);
  return out;
}
