// Field checks shared by encode() and the capability codec: each throws the ProtocolError a decoder
// would raise for the same bad field, so encode refuses exactly what decode refuses.
import { MAX_VARINT } from './constants.js';
import { ProtocolError } from './errors.js';
import { utf8ByteLength } from './utf8.js';

/**
 * A short description of any value for an error message. Never throws: String() throws on symbols in
 * templates and on null-prototype objects, and encode() must throw nothing but ProtocolError.
 */
export function show(x: unknown): string {
  if (typeof x === 'string') return JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}...` : x);
  if (typeof x === 'number' || typeof x === 'boolean' || typeof x === 'bigint' || x === null || x === undefined) return String(x);
  return Array.isArray(x) ? 'an array' : `a ${typeof x}`;
}

/** PROTO_ERR_BAD_FIELD with `message`. */
export function badField(message: string): ProtocolError {
  return new ProtocolError('PROTO_ERR_BAD_FIELD', message);
}

/** Throws PROTO_ERR_BAD_FIELD unless `n` is an integer in [min, MAX_VARINT] [FP-4.1]. */
export function checkUint(n: unknown, field: string, min = 0): asserts n is number {
  if (!Number.isSafeInteger(n) || (n as number) < min) {
    throw badField(`${field} must be an integer in [${min}, ${MAX_VARINT}], got ${show(n)} [FP-4.1]`);
  }
}

/** Throws PROTO_ERR_BAD_FIELD unless `n` is an integer in 0..255 [FP-4.3]. */
export function checkByte(n: unknown, field: string): asserts n is number {
  if (!Number.isInteger(n) || (n as number) < 0 || (n as number) > 0xff) {
    throw badField(`${field} must be an integer in [0, 255], got ${show(n)} [FP-4.3]`);
  }
}

/** Throws PROTO_ERR_BAD_FIELD / BAD_UTF8 / LIMIT unless `s` is a string of at most `maxBytes` UTF-8 bytes [FP-4.2]. */
export function checkString(s: unknown, maxBytes: number, field: string): asserts s is string {
  if (typeof s !== 'string') throw badField(`${field} must be a string`);
  const n = utf8ByteLength(s);
  if (n < 0) throw new ProtocolError('PROTO_ERR_BAD_UTF8', `${field} holds a lone surrogate [FP-4.2]`);
  if (n > maxBytes) throw new ProtocolError('PROTO_ERR_LIMIT', `${field} is ${n} bytes, over ${maxBytes} [FP-4.2]`);
}

/** Throws PROTO_ERR_BAD_FIELD unless `b` is a boolean. */
export function checkBoolean(b: unknown, field: string): asserts b is boolean {
  if (typeof b !== 'boolean') throw badField(`${field} must be a boolean`);
}
