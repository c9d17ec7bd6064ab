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

/** bigint[]; undefined if a value is not a safe integer (the caller sends that array as text instead). */
export function int8Array(values: readonly number[]): Buffer | undefined {
  const n = values.length;
  const b = header(n, OID.int8, false, n * 12);
  let o = n === 0 ? 12 : 20;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (!Number.isSafeInteger(v)) return undefined;
    const hi = Math.floor(v / TWO_32);
    b.writeInt32BE(8, o);
    b.writeInt32BE(hi, o + 4);
    b.writeUInt32BE(v - hi * TWO_32, o + 8);
    o += 12;
  }
  return b;
}

/** integer[]; undefined if a value is not an int32. */
export function int4Array(values: readonly number[]): Buffer | undefined {
  const n = values.length;
  const b = header(n, OID.int4, false, n * 8);
  let o = n === 0 ? 12 : 20;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (!Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) return undefined;
    b.writeInt32BE(4, o);
    b.writeInt32BE(v, o + 4);
    o += 8;
  }
  return b;
}

/** float8[] with NULLs (NaN and the infinities as themselves). */
export function float8Array(values: readonly (number | null)[]): Buffer {
  const n = values.length;
  let nulls = 0;
  for (let i = 0; i < n; i++) if (values[i] === null) nulls++;
  const b = header(n, OID.float8, nulls > 0, n * 4 + (n - nulls) * 8);
  let o = n === 0 ? 12 : 20;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (v === null) {
      b.writeInt32BE(-1, o);
      o += 4;
    } else {
      b.writeInt32BE(8, o);
      b.writeDoubleBE(v, o + 4);
      o += 12;
    }
  }
  return b;
}

/** boolean[]. */
export function boolArray(values: readonly boolean[]): Buffer {
  const n = values.length;
  const b = header(n, OID.bool, false, n * 5);
  let o = n === 0 ? 12 : 20;
  for (let i = 0; i < n; i++) {
    b.writeInt32BE(1, o);
    b[o + 4] = values[i] ? 1 : 0;
    o += 5;
  }
  return b;
}

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
