/**
 * One-dimensional arrays in PostgreSQL's binary format (array_recv), for query parameters: node-postgres
 * sends a Buffer parameter as binary, and the statement's cast ($1::bigint[], ...) tells the server its type.
 * The commit's readings go this way (issue #16 section 4): as text, every number was printed by the hub and
 * parsed again by the server, about a microsecond a reading on the hub alone.
 *
 * Layout: ndim, has-nulls flag, element type oid, then per dimension its length and lower bound (1), then
 * each element as its byte length (-1: NULL) and its bytes, all big-endian.
 */
const OID = { bool: 16, int8: 20, int4: 23, text: 25, float8: 701 } as const;
const TWO_32 = 2 ** 32;

function header(n: number, oid: number, nulls: boolean, bytes: number): Buffer {
  const b = Buffer.allocUnsafe((n === 0 ? 12 : 20) + bytes);
  b.writeInt32BE(n === 0 ? 0 : 1, 0);
  b.writeInt32BE(nulls ? 1 : 0, 4);
  b.writeInt32BE(oid, 8);
  if (n > 0) {
    b.writeInt32BE(n, 12);
    b.writeInt32BE(1, 16);
  }
  return b;
}

/**
 * An array of fixed-width elements: `put` writes one non-null element at `o` and answers false for a value
 * the type cannot hold (the whole array is then undefined).
 */
function fixedArray<T>(values: readonly (T | null)[], oid: number, width: number, put: (b: Buffer, o: number, v: T) => boolean): Buffer | undefined {
  const n = values.length;
  let nulls = 0;
  for (let i = 0; i < n; i++) if (values[i] === null) nulls++;
  const b = header(n, oid, nulls > 0, n * 4 + (n - nulls) * width);
  let o = n === 0 ? 12 : 20;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (v === null) {
      b.writeInt32BE(-1, o);
      o += 4;
      continue;
    }
    b.writeInt32BE(width, o);
    if (!put(b, o + 4, v)) return undefined;
    o += 4 + width;
  }
  return b;
}

const putInt8 = (b: Buffer, o: number, v: number): boolean => {
  if (!Number.isSafeInteger(v)) return false;
  const hi = Math.floor(v / TWO_32);
  b.writeInt32BE(hi, o);
  b.writeUInt32BE(v - hi * TWO_32, o + 4);
  return true;
};
const putInt4 = (b: Buffer, o: number, v: number): boolean => {
  if (!Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) return false;
  b.writeInt32BE(v, o);
  return true;
};
const putFloat8 = (b: Buffer, o: number, v: number): boolean => (b.writeDoubleBE(v, o), true);
const putBool = (b: Buffer, o: number, v: boolean): boolean => ((b[o] = v ? 1 : 0), true);

/** bigint[]; undefined if a value is not a safe integer (the caller sends that array as text instead). */
export const int8Array = (values: readonly number[]): Buffer | undefined => fixedArray(values, OID.int8, 8, putInt8);

/** integer[]; undefined if a value is not an int32. */
export const int4Array = (values: readonly number[]): Buffer | undefined => fixedArray(values, OID.int4, 4, putInt4);

/** float8[] with NULLs (NaN and the infinities as themselves). */
export const float8Array = (values: readonly (number | null)[]): Buffer => fixedArray(values, OID.float8, 8, putFloat8)!;

/** boolean[]. */
export const boolArray = (values: readonly boolean[]): Buffer => fixedArray(values, OID.bool, 1, putBool)!;

/** text[] with NULLs, UTF-8; undefined if a string holds NUL, which text cannot (the server would refuse it). */
export function textArray(values: readonly (string | null)[]): Buffer | undefined {
  const n = values.length;
  let bytes = 0;
  let nulls = false;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (v === null) nulls = true;
    else if (v.includes('\0')) return undefined;
    else bytes += Buffer.byteLength(v);
  }
  const b = header(n, OID.text, nulls, n * 4 + bytes);
  let o = n === 0 ? 12 : 20;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (v === null) {
      b.writeInt32BE(-1, o);
      o += 4;
    } else {
      const len = b.write(v, o + 4, 'utf8');
      b.writeInt32BE(len, o);
      o += 4 + len;
    }
  }
  return b;
}
