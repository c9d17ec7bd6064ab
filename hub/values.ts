import type { Capability, Value } from '../protocol/types.js';

/** A value as JSON carries it in the API and on MQTT: enums by option name. */
export type JsonValue = boolean | number | string;

/** Converts a wire value to its JSON form (enum index -> option name). */
export function valueToJson(cap: Capability | undefined, value: Value): JsonValue {
  if (value.type === 'enum') return cap?.options?.[value.value] ?? value.value;
  return value.value;
}

export type ParsedValue = { ok: true; value: Value } | { ok: false; problem: string };

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
        if (['on', 'true', '1'].includes(s)) return { ok: true, value: { type: 'bool', value: true } };
        if (['off', 'false', '0'].includes(s)) return { ok: true, value: { type: 'bool', value: false } };
      }
      return { ok: false, problem: `${cap.name} takes true/false or ON/OFF, got ${show(input)}` };
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
      if (new TextEncoder().encode(input).length > 255) return { ok: false, problem: `${cap.name} is longer than 255 bytes` };
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
