// A value's outward form, decided here and nowhere else: its JSON form [FP-5.1] (device state, history,
// events, MQTT JSON payloads), its plain MQTT payload, the command input users and integrations send, and a
// chart's y. Pure TypeScript without Node APIs: the hub and the dashboard (in the browser) share it.
import { LIMITS } from './constants.js';
import type { Capability, Value } from './types.js';

/** A value in its JSON form [FP-5.1]: bool as true/false, int and float as numbers, string as text, enum by option name. */
export type JsonValue = boolean | number | string;

/** What a value's form depends on: the capability's value type and, for enums, its option names. */
export type ValueShape = Pick<Capability, 'valueType' | 'options'>;

/** A value as storage keeps it (hub/storage/native-value.ts): bool 0/1, enum the option index, the rest as-is. */
export type StoredValue = number | string;

/** A history point as storage answers it: a raw reading in its stored form, or a rollup bucket's aggregates. */
export interface StoredPoint {
  ts: number;
  value?: StoredValue;
  min?: number;
  max?: number;
  mean?: number;
  count?: number;
}

/**
 * A history point in its JSON form: raw points carry `value`, rollup buckets `min`, `max`, `mean` and
 * `count`. A bool series' min and max are booleans (was any reading false / true) and its mean the fraction
 * of true readings, 0..1.
 */
export interface JsonPoint {
  ts: number;
  value?: JsonValue;
  min?: number | boolean;
  max?: number | boolean;
  mean?: number;
  count?: number;
}

/** Plain MQTT payloads of a bool: Home Assistant's default payload_on / payload_off. */
export const MQTT_ON = 'ON';
export const MQTT_OFF = 'OFF';

/** A wire value in its JSON form [FP-5.1]; an enum index without an option name (no capability) stays a number. */
export function valueToJson(cap: Pick<Capability, 'options'> | undefined, value: Value): JsonValue {
  if (value.type === 'enum') return cap?.options?.[value.value] ?? value.value;
  return value.value;
}

/** A stored value in its JSON form [FP-5.1]: 0/1 of a bool series as false/true, an enum index by option name. */
export function storedToJson(cap: ValueShape, stored: StoredValue): JsonValue {
  if (typeof stored === 'string') return stored;
  if (cap.valueType === 'bool') return stored !== 0;
  if (cap.valueType === 'enum') return cap.options?.[stored] ?? stored;
  return stored;
}

/** A stored history point in its JSON form (see JsonPoint); numeric rollups of int and float stay as they are. */
export function pointToJson(cap: ValueShape, point: StoredPoint): JsonPoint {
  const out: JsonPoint = { ts: point.ts };
  if (point.value !== undefined) out.value = storedToJson(cap, point.value);
  const bool = cap.valueType === 'bool';
  if (point.min !== undefined) out.min = bool ? point.min !== 0 : point.min;
  if (point.max !== undefined) out.max = bool ? point.max !== 0 : point.max;
  if (point.mean !== undefined) out.mean = point.mean;
  if (point.count !== undefined) out.count = point.count;
  return out;
}

/** True for what the JSON form [FP-5.1] admits: booleans, strings and finite numbers. */
export function isJsonValue(v: unknown): v is JsonValue {
  return typeof v === 'boolean' || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
}

/** The plain payload of `<base>/<device>/<metric>`: ON/OFF for bool, numbers in JS notation, text as-is. */
export function valueToMqtt(value: JsonValue): string {
  if (typeof value === 'boolean') return value ? MQTT_ON : MQTT_OFF;
  return String(value);
}

/** The command payload that carries a value unambiguously, `{"value": ...}`: text that looks like a number stays text. */
export function commandToMqtt(value: JsonValue): string {
  return JSON.stringify({ value });
}

/** A chart's y for a JSON value: numbers as they are, booleans 1/0, text none (null). */
export function chartNumber(value: JsonValue | undefined): number | null {
  if (typeof value === 'boolean') return value ? 1 : 0;
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

export type ParsedValue = { ok: true; value: Value } | { ok: false; problem: string };

export type ParsedInput = { ok: true; input: unknown } | { ok: false; problem: string };

/**
 * The command input an MQTT command payload (as text) carries, or the problem: a plain value (`21.5`, `ON`,
 * `auto`), a JSON value, or `{"value": ...}`. Text capabilities take the payload as-is unless it is a JSON
 * string, so that `123` stays the text "123". valueFromJson then checks the input against the capability.
 */
export function inputFromMqtt(cap: Pick<Capability, 'valueType'> | undefined, text: string): ParsedInput {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: true, input: text };
  }
  if (json === null || Array.isArray(json)) {
    return { ok: false, problem: `payload must be a value or {"value": ...}, got ${preview(text)}` };
  }
  if (typeof json === 'object') {
    if (!Object.hasOwn(json, 'value')) {
      return { ok: false, problem: `JSON object payload needs a "value" field, got ${preview(text)}` };
    }
    return { ok: true, input: (json as { value: unknown }).value };
  }
  const textual = cap?.valueType === 'string' || cap?.valueType === 'enum';
  if (textual && typeof json !== 'string') return { ok: true, input: text };
  return { ok: true, input: json };
}

/**
 * Turns a JSON command argument into the typed value a capability takes, or names the problem.
 * Accepts what users type: "ON"/"OFF"/"true"/"1" for bool, numeric strings for numbers, option names for enums.
 */
export function valueFromJson(cap: Capability, input: unknown): ParsedValue {
  switch (cap.valueType) {
    case 'bool': {
      if (typeof input === 'boolean') return { ok: true, value: { type: 'bool', value: input } };
      if (input === 1 || input === 0) return { ok: true, value: { type: 'bool', value: input === 1 } };
      if (typeof input === 'string') {
        const s = input.trim().toLowerCase();
        if ([MQTT_ON.toLowerCase(), 'true', '1'].includes(s)) return { ok: true, value: { type: 'bool', value: true } };
        if ([MQTT_OFF.toLowerCase(), 'false', '0'].includes(s)) return { ok: true, value: { type: 'bool', value: false } };
      }
      return { ok: false, problem: `${cap.name} takes true/false or ${MQTT_ON}/${MQTT_OFF}, got ${show(input)}` };
    }
    case 'int':
    case 'float': {
      const n = typeof input === 'number' ? input : typeof input === 'string' && input.trim() !== '' ? Number(input) : NaN;
      if (!Number.isFinite(n)) return { ok: false, problem: `${cap.name} takes a number, got ${show(input)}` };
      if (cap.valueType === 'int' && !Number.isInteger(n)) {
        return { ok: false, problem: `${cap.name} takes an integer, got ${show(input)}` };
      }
      if ((cap.min !== undefined && n < cap.min) || (cap.max !== undefined && n > cap.max)) {
        return { ok: false, problem: `${cap.name} must be between ${cap.min} and ${cap.max}, got ${n}` };
      }
      return { ok: true, value: { type: cap.valueType, value: n } };
    }
    case 'string': {
      if (typeof input !== 'string') return { ok: false, problem: `${cap.name} takes a string, got ${show(input)}` };
      if (new TextEncoder().encode(input).length > LIMITS.maxStringBytes) {
        return { ok: false, problem: `${cap.name} is longer than ${LIMITS.maxStringBytes} bytes` };
      }
      return { ok: true, value: { type: 'string', value: input } };
    }
    case 'enum': {
      const options = cap.options ?? [];
      const index = typeof input === 'number' ? input : options.indexOf(String(input));
      if (!Number.isInteger(index) || index < 0 || index >= options.length) {
        return { ok: false, problem: `${cap.name} takes one of ${options.join(', ')}, got ${show(input)}` };
      }
      return { ok: true, value: { type: 'enum', value: index } };
    }
  }
}

function show(input: unknown): string {
  const text = JSON.stringify(input) ?? String(input);
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

function preview(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}
