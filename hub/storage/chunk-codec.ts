import { MAX_VARINT, ProtocolError, Reader, Writer } from '../../protocol/index.js';
import type { Value } from '../../protocol/types.js';
import { StoreError } from './errors.js';

// Layout of a chunk (all varints are the protocol's unsigned LEB128 [FP-4.1], reused from protocol/):
//   u8 CHUNK_FORMAT | varint n (>= 1) | u8 ts mode | ts... | u8 value mode | values...
// ts, TS_DELTA_OF_DELTA: varint ts0, varint (ts1 - ts0), then zigzag(delta_i - delta_i-1): a steady
//   sampling rate costs one byte per reading. TS_DELTA (only when a delta-of-delta would not fit a
//   varint, i.e. timestamps near 2^53): varint ts0, then varint (ts_i - ts_i-1).
// values, VALUES_TYPED: the protocol's typed values [FP-5.2], tag + payload each.
//   VALUES_DECIMAL (all floats that are exact decimals with k <= MAX_DECIMALS places, the common case
//   for sensors that round): u8 k, then zigzag deltas of value * 10^k: one or two bytes per reading.
//   VALUES_DECIMAL_F32: the same for floats that are the float32 nearest to such a decimal (firmware
//   computing in single precision, sent as float32 [FP-5.4]); decoded through Math.fround.
//   VALUES_INT_DELTA (all ints): zigzag deltas.
// Readings must be sorted by ts; the value mode is picked per chunk, so every chunk decodes alone.

/** Version byte of the chunk layout above. */
export const CHUNK_FORMAT = 1;
const TS_DELTA_OF_DELTA = 0;
const TS_DELTA = 1;
const VALUES_TYPED = 0;
const VALUES_DECIMAL = 1;
const VALUES_INT_DELTA = 2;
const VALUES_DECIMAL_F32 = 3;
const MAX_DECIMALS = 9;
const POW10 = Array.from({ length: MAX_DECIMALS + 1 }, (_, k) => 10 ** k);

/** Readings of one chunk as parallel arrays, sorted by ts. */
export interface ChunkData {
  ts: number[];
  values: Value[];
}

// One scratch buffer for every encode: chunks are encoded one at a time, synchronously.
const scratch = new Writer(4096);

/** Encodes readings sorted by ts (n >= 1) into a self-contained chunk; throws on unsorted or invalid input. */
export function encodeChunk(ts: readonly number[], values: readonly Value[]): Uint8Array {
  const n = ts.length;
  if (n === 0 || values.length !== n) throw new RangeError(`a chunk needs n >= 1 readings and as many values, got ${n}/${values.length}`);
  const w = scratch;
  w.reset();
  w.u8(CHUNK_FORMAT);
  w.varint(n);
  writeTimestamps(w, ts);
  writeValues(w, values);
  return w.toBytes();
}

/** Decodes a chunk; throws StoreError HUB_ERR_CHUNK_CORRUPT for bytes encodeChunk() did not produce. */
export function decodeChunk(bytes: Uint8Array): ChunkData {
  try {
    const r = new Reader(bytes);
    const format = r.u8();
    if (format !== CHUNK_FORMAT) throw new ProtocolError('PROTO_ERR_BAD_FIELD', `unknown chunk format ${format}`);
    const n = r.varint();
    // Every reading takes at least one byte, which bounds what a damaged count can make us allocate.
    if (n === 0 || n > bytes.length) throw new ProtocolError('PROTO_ERR_BAD_FIELD', `chunk count ${n} impossible for ${bytes.length} bytes`);
    const ts = readTimestamps(r, n);
    const values = readValues(r, n);
    r.expectEnd();
    return { ts, values };
  } catch (err) {
    if (err instanceof ProtocolError) throw new StoreError('HUB_ERR_CHUNK_CORRUPT', err.message, { cause: err });
    throw err;
  }
}

/** Zigzag by arithmetic (bitwise operators stop at 2^31): 0, -1, 1, -2, ... -> 0, 1, 2, 3, ... */
export function zigzag(d: number): number {
  return d >= 0 ? d * 2 : -d * 2 - 1;
}

/** Inverse of zigzag(). */
export function unzigzag(z: number): number {
  return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
}

function writeTimestamps(w: Writer, ts: readonly number[]): void {
  const n = ts.length;
  let dodFits = true;
  for (let i = 1; i < n; i++) {
    if (!(ts[i]! >= ts[i - 1]!)) throw new RangeError(`chunk timestamps must be sorted: ${ts[i - 1]} then ${ts[i]}`);
    if (i >= 2 && zigzag(ts[i]! - 2 * ts[i - 1]! + ts[i - 2]!) > MAX_VARINT) dodFits = false;
  }
  w.u8(dodFits ? TS_DELTA_OF_DELTA : TS_DELTA);
  w.varint(ts[0]!);
  if (n === 1) return;
  w.varint(ts[1]! - ts[0]!);
  if (dodFits) for (let i = 2; i < n; i++) w.varint(zigzag(ts[i]! - ts[i - 1]! - (ts[i - 1]! - ts[i - 2]!)));
  else for (let i = 2; i < n; i++) w.varint(ts[i]! - ts[i - 1]!);
}

function readTimestamps(r: Reader, n: number): number[] {
  const mode = r.u8();
  if (mode !== TS_DELTA_OF_DELTA && mode !== TS_DELTA) throw new ProtocolError('PROTO_ERR_BAD_FIELD', `unknown ts mode ${mode}`);
  const ts = new Array<number>(n);
  let t = r.varint();
  ts[0] = t;
  if (n === 1) return ts;
  let delta = r.varint();
  t += delta;
  ts[1] = t;
  for (let i = 2; i < n; i++) {
    if (mode === TS_DELTA_OF_DELTA) delta += unzigzag(r.varint());
    else delta = r.varint();
    t += delta;
    if (!(delta >= 0 && t <= MAX_VARINT)) throw new ProtocolError('PROTO_ERR_BAD_FIELD', 'chunk timestamps out of order or range');
    ts[i] = t;
  }
  return ts;
}

function writeValues(w: Writer, values: readonly Value[]): void {
  const k = decimalPlaces(values, false);
  const k32 = k < 0 ? decimalPlaces(values, true) : -1;
  if (k >= 0 || k32 >= 0) {
    w.u8(k >= 0 ? VALUES_DECIMAL : VALUES_DECIMAL_F32);
    w.u8(Math.max(k, k32));
    writeDeltas(w, values, POW10[Math.max(k, k32)]!);
  } else if (intDeltasFit(values)) {
    w.u8(VALUES_INT_DELTA);
    writeDeltas(w, values, 1);
  } else {
    w.u8(VALUES_TYPED);
    for (const v of values) w.value(v);
  }
}

function writeDeltas(w: Writer, values: readonly Value[], scale: number): void {
  let prev = 0;
  for (const v of values) {
    const s = Math.round((v.value as number) * scale) + 0;
    w.varint(zigzag(s - prev));
    prev = s;
  }
}

function readValues(r: Reader, n: number): Value[] {
  const mode = r.u8();
  const values = new Array<Value>(n);
  if (mode === VALUES_TYPED) {
    for (let i = 0; i < n; i++) values[i] = r.value();
    return values;
  }
  if (mode !== VALUES_DECIMAL && mode !== VALUES_DECIMAL_F32 && mode !== VALUES_INT_DELTA) {
    throw new ProtocolError('PROTO_ERR_BAD_FIELD', `unknown value mode ${mode}`);
  }
  const k = mode === VALUES_INT_DELTA ? 0 : r.u8();
  if (k > MAX_DECIMALS) throw new ProtocolError('PROTO_ERR_BAD_FIELD', `decimal places ${k} over ${MAX_DECIMALS}`);
  const scale = POW10[k]!;
  let s = 0;
  for (let i = 0; i < n; i++) {
    s += unzigzag(r.varint());
    if (!Number.isSafeInteger(s)) throw new ProtocolError('PROTO_ERR_BAD_FIELD', 'chunk value out of range');
    if (mode === VALUES_INT_DELTA) values[i] = { type: 'int', value: s };
    else if (mode === VALUES_DECIMAL) values[i] = { type: 'float', value: s / scale };
    else values[i] = { type: 'float', value: Math.fround(s / scale) };
  }
  return values;
}

/**
 * The fewest decimal places k that represent every value exactly as (integer / 10^k), or with `f32` as
 * fround(integer / 10^k), decoded bit for bit (so -0 and huge magnitudes fall back to typed values);
 * -1 if there is none or not every value is a float.
 */
function decimalPlaces(values: readonly Value[], f32: boolean): number {
  for (const v of values) if (v.type !== 'float') return -1;
  search: for (let k = 0; k <= MAX_DECIMALS; k++) {
    const scale = POW10[k]!;
    let prev = 0;
    for (const v of values) {
      const x = v.value as number;
      const s = Math.round(x * scale) + 0;
      const back = f32 ? Math.fround(s / scale) : s / scale;
      if (!Number.isSafeInteger(s) || !Object.is(back, x) || zigzag(s - prev) > MAX_VARINT) continue search;
      prev = s;
    }
    return k;
  }
  return -1;
}

function intDeltasFit(values: readonly Value[]): boolean {
  let prev = 0;
  for (const v of values) {
    if (v.type !== 'int') return false;
    if (zigzag(v.value - prev) > MAX_VARINT) return false;
    prev = v.value;
  }
  return true;
}
