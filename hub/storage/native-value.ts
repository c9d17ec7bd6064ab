import type { Value, ValueType } from '../../protocol/types.js';

/** A value as SQLite stores it in an ANY column: bool/int/enum INTEGER, float REAL, string TEXT. */
export type Native = number | string;

/** The stored form of a value; bool becomes 0/1. */
export function toNative(v: Value): Native {
  return v.type === 'bool' ? (v.value ? 1 : 0) : v.value;
}

/** The typed value back from its stored form and its series' (or row's) value type. */
export function fromNative(type: ValueType, raw: unknown): Value {
  switch (type) {
    case 'bool':
      return { type, value: raw !== 0 };
    case 'string':
      return { type, value: String(raw) };
    default:
      return { type, value: Number(raw) };
  }
}

/** True when a value type has numeric rollups (bool counts as 0/1). */
export function isNumeric(type: ValueType): boolean {
  return type === 'bool' || type === 'int' || type === 'float';
}

/**
 * SQL for a value bound as parameter `value` whose type name is parameter `type`: ints land as INTEGER,
 * since better-sqlite3 binds every JS number as REAL and an ANY column keeps what it is given.
 */
export function nativeSql(value: string, type: string): string {
  return `iif(${type} IN ('float', 'string'), ${value}, CAST(${value} AS INTEGER))`;
}
