import { INT_MAX, INT_MIN, LIMITS, MAX_ENUM_INDEX, VALUE_TAGS } from './constants.js';
import { ProtocolError } from './errors.js';
import { badField, show } from './field-checks.js';
import type { Reader } from './reader.js';
import type { Value } from './types.js';
import { utf8ByteLength } from './utf8.js';
import type { Writer } from './writer.js';

/**
 * Throws ProtocolError unless `v` is a value encode() can carry: int in INT_MIN..INT_MAX [FP-5.3],
 * finite float [FP-5.4], string of at most maxStringBytes of UTF-8, enum index 0..255 [FP-5.5].
 */
export function checkValue(v: Value, field = 'value'): void {
  switch (v?.type) {
    case 'bool':
      if (typeof v.value !== 'boolean') throw badField(`${field}: bool value is not a boolean`);
      return;
    case 'int': {
      const n = v.value;
      if (!Number.isInteger(n) || n < INT_MIN || n > INT_MAX) {
        throw badField(`${field}: int ${show(n)} is not an integer in [${INT_MIN}, ${INT_MAX}] [FP-5.3]`);
      }
      return;
    }
    case 'float':
      if (typeof v.value !== 'number') throw badField(`${field}: float value is not a number`);
      if (!Number.isFinite(v.value)) throw badFloat(`${field}: ${v.value} is not finite [FP-5.4]`);
      return;
    case 'string': {
      if (typeof v.value !== 'string') throw badField(`${field}: string value is not a string`);
      const n = utf8ByteLength(v.value);
      if (n < 0) throw new ProtocolError('PROTO_ERR_BAD_UTF8', `${field}: string holds a lone surrogate [FP-4.2]`);
      if (n > LIMITS.maxStringBytes) {
        throw new ProtocolError('PROTO_ERR_LIMIT', `${field}: string is ${n} bytes, over ${LIMITS.maxStringBytes} [FP-5.5]`);
      }
      return;
    }
    case 'enum': {
      const n = v.value;
      if (!Number.isInteger(n) || n < 0 || n > MAX_ENUM_INDEX) {
        throw badField(`${field}: enum index ${show(n)} is not in 0..${MAX_ENUM_INDEX} [FP-5.5]`);
      }
      return;
    }
    default:
      throw badField(`${field}: unknown value type ${show((v as { type?: unknown } | null | undefined)?.type)}`);
  }
}

/**
 * Writes tag byte then payload [FP-5.2]. Validates first (as checkValue), so an invalid value writes
 * nothing; only running out of the writer's maxBytes can leave part of one (encode then drops the frame).
 */
export function writeValue(w: Writer, v: Value): void {
  // One switch that checks then writes: this is on the path of every reading encoded.
  switch (v?.type) {
    case 'bool':
      if (typeof v.value !== 'boolean') break;
      w.u8(v.value ? VALUE_TAGS.true : VALUE_TAGS.false);
      return;
    case 'int': {
      const n = v.value;
      if (!Number.isInteger(n) || n < INT_MIN || n > INT_MAX) break;
      // Zigzag by arithmetic: n reaches 2^52, past what bitwise operators handle [FP-5.3].
      w.u8(VALUE_TAGS.int);
      w.varint(n >= 0 ? n * 2 : -n * 2 - 1);
      return;
    }
    case 'float': {
      const x = v.value;
      if (typeof x !== 'number' || !Number.isFinite(x)) break;
      // The shorter form whenever it is exact (Math.fround keeps -0, so -0 stays float32) [FP-5.4].
      if (Math.fround(x) === x) {
        w.u8(VALUE_TAGS.float32);
        w.float32(x);
      } else {
        w.u8(VALUE_TAGS.float64);
        w.float64(x);
      }
      return;
    }
    case 'enum': {
      const n = v.value;
      if (!Number.isInteger(n) || n < 0 || n > MAX_ENUM_INDEX) break;
      w.u8(VALUE_TAGS.enum);
      w.varint(n);
      return;
    }
    case 'string':
      // Writer.string validates before writing; its length prefix follows the tag.
      checkValue(v);
      w.u8(VALUE_TAGS.string);
      w.string(v.value, LIMITS.maxStringBytes, 'string value');
      return;
  }
  // Invalid: checkValue names the problem (the fallback only guards against the two drifting apart).
  checkValue(v);
  throw badField('invalid value');
}

/**
 * Reads tag byte then payload [FP-5.2]. Unknown tag: PROTO_ERR_BAD_VALUE_TAG; NaN or infinity:
 * PROTO_ERR_BAD_FLOAT [FP-5.4]; enum index over 255: PROTO_ERR_BAD_FIELD [FP-5.5].
 */
export function readValue(r: Reader): Value {
  const tag = r.u8();
  switch (tag) {
    case VALUE_TAGS.false:
      return { type: 'bool', value: false };
    case VALUE_TAGS.true:
      return { type: 'bool', value: true };
    case VALUE_TAGS.int: {
      const z = r.varint();
      // Exact for every z <= 2^53-1: z + 1 <= 2^53 is still representable [FP-5.3].
      return { type: 'int', value: z % 2 === 0 ? z / 2 : -(z + 1) / 2 };
    }
    case VALUE_TAGS.float32: {
      const x = r.float32();
      if (!Number.isFinite(x)) throw badFloat(`float32 ${x} is not finite [FP-5.4]`);
      return { type: 'float', value: x };
    }
    case VALUE_TAGS.float64: {
      const x = r.float64();
      if (!Number.isFinite(x)) throw badFloat(`float64 ${x} is not finite [FP-5.4]`);
      return { type: 'float', value: x };
    }
    case VALUE_TAGS.string:
      return { type: 'string', value: r.string(LIMITS.maxStringBytes, 'string value') };
    case VALUE_TAGS.enum: {
      const n = r.varint();
      if (n > MAX_ENUM_INDEX) throw badField(`enum index ${n} over ${MAX_ENUM_INDEX} [FP-5.5]`);
      return { type: 'enum', value: n };
    }
    default:
      throw new ProtocolError('PROTO_ERR_BAD_VALUE_TAG', `unknown value tag 0x${tag.toString(16)} [FP-5.2]`);
  }
}

function badFloat(message: string): ProtocolError {
  return new ProtocolError('PROTO_ERR_BAD_FLOAT', message);
}
