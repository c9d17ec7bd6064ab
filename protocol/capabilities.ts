// The capability list of HELLO [FP-6.1]: its checks, its writer and its reader, kept together so
// that encode and decode enforce the same rules.
import { CAPABILITY_FLAGS, LIMITS, VALUE_TYPE_CODES } from './constants.js';
import { ProtocolError } from './errors.js';
import { badField, checkBoolean, checkByte, checkString, show } from './field-checks.js';
import type { Reader } from './reader.js';
import type { Capability, ValueType } from './types.js';
import type { Writer } from './writer.js';

const VALUE_TYPES: readonly ValueType[] = (() => {
  const byCode: ValueType[] = [];
  for (const [type, code] of Object.entries(VALUE_TYPE_CODES)) byCode[code] = type as ValueType;
  return byCode;
})();
const { writable: CAP_WRITABLE, event: CAP_EVENT, range: CAP_RANGE } = CAPABILITY_FLAGS;
const NAME_PATTERN = /^[a-z][a-z0-9_]*$/;

/** Throws ProtocolError unless `caps` is a list encode() can carry, with the code decode() would raise [FP-6.1]. */
export function checkCapabilities(caps: readonly Capability[]): void {
  if (!Array.isArray(caps)) throw badField('capabilities must be an array');
  if (caps.length > LIMITS.maxCapabilities) {
    throw new ProtocolError('PROTO_ERR_LIMIT', `${caps.length} capabilities, over ${LIMITS.maxCapabilities} [FP-6.1]`);
  }
  const ids = new Set<number>();
  const names = new Set<string>();
  for (const cap of caps) {
    if (typeof cap !== 'object' || cap === null) throw badField('capability must be an object');
    checkByte(cap.id, 'capability id');
    checkName(cap.name);
    checkString(cap.unit, LIMITS.maxUnitBytes, 'capability unit');
    if (typeof cap.valueType !== 'string' || !Object.hasOwn(VALUE_TYPE_CODES, cap.valueType)) throw badField(`unknown valueType ${show(cap.valueType)} [FP-6.1]`);
    checkString(cap.deviceClass, LIMITS.maxNameBytes, 'capability deviceClass');
    checkBoolean(cap.writable, 'capability writable');
    checkBoolean(cap.event, 'capability event');
    if (cap.min !== undefined || cap.max !== undefined) checkRange(cap.valueType, cap.min, cap.max);
    if (cap.valueType === 'enum') checkOptions(cap.options);
    else if (cap.options !== undefined) throw badField(`options on a ${cap.valueType} capability [FP-6.1]`);
    checkUnique(ids, names, cap.id, cap.name);
  }
}

/** Writes the count then each capability [FP-6.1]; call checkCapabilities first. */
export function writeCapabilities(w: Writer, caps: readonly Capability[]): void {
  w.varint(caps.length);
  for (const cap of caps) {
    const hasRange = cap.min !== undefined;
    w.u8(cap.id);
    w.string(cap.name, LIMITS.maxNameBytes, 'capability name');
    w.string(cap.unit, LIMITS.maxUnitBytes, 'capability unit');
    w.u8(VALUE_TYPE_CODES[cap.valueType]);
    w.string(cap.deviceClass, LIMITS.maxNameBytes, 'capability deviceClass');
    w.u8((cap.writable ? CAP_WRITABLE : 0) | (cap.event ? CAP_EVENT : 0) | (hasRange ? CAP_RANGE : 0));
    if (hasRange) {
      w.float64(cap.min!);
      w.float64(cap.max!);
    }
    if (cap.valueType === 'enum') {
      const options = cap.options!;
      w.u8(options.length);
      for (const option of options) w.string(option, LIMITS.maxNameBytes, 'enum option');
    }
  }
}

/** Reads the count then each capability [FP-6.1], refusing what checkCapabilities refuses. */
export function readCapabilities(r: Reader): Capability[] {
  const count = r.varint();
  if (count > LIMITS.maxCapabilities) {
    throw new ProtocolError('PROTO_ERR_LIMIT', `${count} capabilities, over ${LIMITS.maxCapabilities} [FP-6.1]`);
  }
  const caps: Capability[] = [];
  const ids = new Set<number>();
  const names = new Set<string>();
  for (let i = 0; i < count; i++) {
    const id = r.u8();
    const name = r.string(LIMITS.maxNameBytes, 'capability name');
    checkName(name);
    const unit = r.string(LIMITS.maxUnitBytes, 'capability unit');
    const typeCode = r.u8();
    const valueType = VALUE_TYPES[typeCode];
    if (valueType === undefined) throw badField(`unknown valueType code ${typeCode} [FP-6.1]`);
    const deviceClass = r.string(LIMITS.maxNameBytes, 'capability deviceClass');
    // Bits 3-7 are reserved: ignored, so that a later minor revision may use them [FP-6.1].
    const flags = r.u8();
    const cap: Capability = {
      id,
      name,
      unit,
      valueType,
      deviceClass,
      writable: (flags & CAP_WRITABLE) !== 0,
      event: (flags & CAP_EVENT) !== 0,
    };
    if ((flags & CAP_RANGE) !== 0) {
      const min = r.float64();
      const max = r.float64();
      checkRange(valueType, min, max);
      cap.min = min;
      cap.max = max;
    }
    if (valueType === 'enum') {
      const n = r.u8();
      checkOptionCount(n);
      const options: string[] = [];
      for (let k = 0; k < n; k++) options.push(r.string(LIMITS.maxNameBytes, 'enum option'));
      checkOptionNames(options);
      cap.options = options;
    }
    checkUnique(ids, names, id, name);
    caps.push(cap);
  }
  return caps;
}

function checkName(name: unknown): void {
  checkString(name, LIMITS.maxNameBytes, 'capability name');
  if (!NAME_PATTERN.test(name)) throw badField(`capability name ${JSON.stringify(name)} is not [a-z][a-z0-9_]* [FP-6.1]`);
}

function checkRange(valueType: ValueType, min: unknown, max: unknown): void {
  if (valueType !== 'int' && valueType !== 'float') throw badField(`range on a ${valueType} capability [FP-6.1]`);
  if (typeof min !== 'number' || typeof max !== 'number') throw badField('range needs both min and max [FP-6.1]');
  if (!Number.isFinite(min) || !Number.isFinite(max)) {
    throw new ProtocolError('PROTO_ERR_BAD_FLOAT', `range [${min}, ${max}] is not finite [FP-6.1]`);
  }
  if (min > max) throw badField(`range min ${min} > max ${max} [FP-6.1]`);
}

function checkOptions(options: unknown): void {
  if (!Array.isArray(options)) throw badField('an enum capability needs options [FP-6.1]');
  checkOptionCount(options.length);
  for (const option of options) checkString(option, LIMITS.maxNameBytes, 'enum option');
  checkOptionNames(options as string[]);
}

/** [FP-6.1] An option is the enum value's name in JSON, MQTT and commands: it must say something, once. */
function checkOptionNames(options: readonly string[]): void {
  const seen = new Set<string>();
  for (const option of options) {
    if (option === '') throw badField('an empty enum option [FP-6.1]');
    if (seen.has(option)) throw badField(`enum option ${JSON.stringify(option)} is listed twice [FP-6.1]`);
    seen.add(option);
  }
}

function checkOptionCount(n: number): void {
  if (n === 0) throw badField('an enum needs at least one option [FP-6.1]');
  if (n > LIMITS.maxEnumOptions) {
    throw new ProtocolError('PROTO_ERR_LIMIT', `${n} enum options, over ${LIMITS.maxEnumOptions} [FP-6.1]`);
  }
}

function checkUnique(ids: Set<number>, names: Set<string>, id: number, name: string): void {
  if (ids.has(id)) throw badField(`duplicate capability id ${id} [FP-6.1]`);
  if (names.has(name)) throw badField(`duplicate capability name ${name} [FP-6.1]`);
  ids.add(id);
  names.add(name);
}
