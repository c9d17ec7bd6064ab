import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Capability, Value } from './types.js';
import {
  chartNumber,
  commandToMqtt,
  inputFromMqtt,
  isJsonValue,
  MQTT_OFF,
  MQTT_ON,
  pointToJson,
  storedToJson,
  valueFromJson,
  valueToJson,
  valueToMqtt,
  type JsonValue,
} from './value-form.js';

const cap = (c: Partial<Capability> & Pick<Capability, 'name' | 'valueType'>): Capability => ({
  id: 1,
  unit: '',
  deviceClass: '',
  writable: true,
  event: false,
  ...c,
});

const C = {
  on: cap({ name: 'on', valueType: 'bool' }),
  level: cap({ name: 'level', valueType: 'int', min: 0, max: 100 }),
  setpoint: cap({ name: 'setpoint', valueType: 'float', min: 5, max: 30 }),
  label: cap({ name: 'label', valueType: 'string' }),
  mode: cap({ name: 'mode', valueType: 'enum', options: ['eco', 'comfort', 'away'] }),
};

describe('value-form.ts', () => {
  it('is pure, so the browser can run it: imports only protocol modules, uses no Node globals', () => {
    const source = readFileSync(fileURLToPath(new URL('./value-form.ts', import.meta.url)), 'utf8');
    const imports = [...source.matchAll(/from '([^']+)'/g)].map((m) => m[1]);
    expect(imports.filter((i) => !/^\.\/[a-z-]+\.js$/.test(i!))).toEqual([]);
    expect(source.match(/\b(Buffer|process|require|globalThis)\b/g)).toBeNull();
  });
});

describe('the JSON form of a value [FP-5.1]', () => {
  it('[FP-5.1] bool as true/false, numbers as numbers, text as-is, enum by option name', () => {
    const cases: [Capability, Value, JsonValue][] = [
      [C.on, { type: 'bool', value: true }, true],
      [C.on, { type: 'bool', value: false }, false],
      [C.level, { type: 'int', value: -42 }, -42],
      [C.setpoint, { type: 'float', value: 21.5 }, 21.5],
      [C.label, { type: 'string', value: 'héllo' }, 'héllo'],
      [C.mode, { type: 'enum', value: 1 }, 'comfort'],
    ];
    for (const [c, value, json] of cases) expect({ value, json: valueToJson(c, value) }).toEqual({ value, json });
  });

  it('[FP-5.1] an enum index without an option name stays a number', () => {
    expect(valueToJson(C.mode, { type: 'enum', value: 7 })).toBe(7);
    expect(valueToJson(undefined, { type: 'enum', value: 2 })).toBe(2);
    expect(valueToJson(undefined, { type: 'bool', value: true })).toBe(true);
  });

  it('[FP-5.1] stored values (bool 0/1, enum index) come out in the same JSON form as wire values', () => {
    expect([storedToJson(C.on, 1), storedToJson(C.on, 0)]).toEqual([true, false]);
    expect([storedToJson(C.level, 7), storedToJson(C.setpoint, 0.25), storedToJson(C.label, '123')]).toEqual([7, 0.25, '123']);
    expect([storedToJson(C.mode, 2), storedToJson(C.mode, 9)]).toEqual(['away', 9]);
  });

  it('[FP-5.1] the JSON form column of the value-type table is what valueToJson gives', () => {
    const doc = readFileSync(fileURLToPath(new URL('../firmware-protocol.md', import.meta.url)), 'utf8');
    const table = doc.slice(doc.indexOf('<!-- table: value-types -->')).split('\n').slice(3);
    const rows = new Map<string, string>();
    for (const line of table) {
      if (!line.startsWith('|')) break;
      const cells = line.split('|').map((s) => s.trim().replace(/`/g, ''));
      rows.set(cells[1]!, cells[3]!);
    }
    const shown: Record<string, [string, JsonValue[]]> = {
      bool: ['true / false', [valueToJson(C.on, { type: 'bool', value: true }), valueToJson(C.on, { type: 'bool', value: false })]],
      int: ['number', [valueToJson(C.level, { type: 'int', value: 3 })]],
      float: ['number', [valueToJson(C.setpoint, { type: 'float', value: 3.5 })]],
      string: ['string', [valueToJson(C.label, { type: 'string', value: 'x' })]],
      enum: ["the option's name", [valueToJson(C.mode, { type: 'enum', value: 0 })]],
    };
    for (const [type, [column, values]] of Object.entries(shown)) {
      expect({ type, column: rows.get(type) }).toEqual({ type, column });
      expect({ type, json: values.map((v) => JSON.stringify(v)) }).toEqual({
        type,
        json: { bool: ['true', 'false'], int: ['3'], float: ['3.5'], string: ['"x"'], enum: ['"eco"'] }[type],
      });
    }
  });

  it('admits booleans, strings and finite numbers only', () => {
    for (const v of [true, false, 0, -1.5, '', 'x']) expect({ v, ok: isJsonValue(v) }).toEqual({ v, ok: true });
    for (const v of [null, undefined, Number.NaN, Infinity, {}, [], 1n]) expect({ v, ok: isJsonValue(v) }).toEqual({ v, ok: false });
  });
});

describe('history points in JSON form', () => {
  it('raw points: bool 0/1 as false/true, enum index by option name, numbers and text as they are', () => {
    expect(pointToJson(C.on, { ts: 1, value: 1 })).toEqual({ ts: 1, value: true });
    expect(pointToJson(C.on, { ts: 2, value: 0 })).toEqual({ ts: 2, value: false });
    expect(pointToJson(C.mode, { ts: 3, value: 1 })).toEqual({ ts: 3, value: 'comfort' });
    expect(pointToJson(C.setpoint, { ts: 4, value: 21.5 })).toEqual({ ts: 4, value: 21.5 });
    expect(pointToJson(C.label, { ts: 5, value: 'héllo' })).toEqual({ ts: 5, value: 'héllo' });
  });

  it('bool rollups: min and max as booleans, mean as the fraction of true readings', () => {
    expect(pointToJson(C.on, { ts: 0, min: 0, max: 1, mean: 0.25, count: 4 })).toEqual({ ts: 0, min: false, max: true, mean: 0.25, count: 4 });
    expect(pointToJson(C.on, { ts: 0, min: 1, max: 1, mean: 1, count: 2 })).toEqual({ ts: 0, min: true, max: true, mean: 1, count: 2 });
    expect(pointToJson(C.on, { ts: 0, min: 0, max: 0, mean: 0, count: 3 })).toEqual({ ts: 0, min: false, max: false, mean: 0, count: 3 });
  });

  it('int and float rollups stay numbers', () => {
    expect(pointToJson(C.level, { ts: 60_000, min: 1, max: 9, mean: 5, count: 3 })).toEqual({ ts: 60_000, min: 1, max: 9, mean: 5, count: 3 });
    expect(pointToJson(C.setpoint, { ts: 0, min: 0.5, max: 1.5, mean: 1, count: 2 })).toEqual({ ts: 0, min: 0.5, max: 1.5, mean: 1, count: 2 });
  });

  it('chart points: numbers as they are, booleans 1/0, text none', () => {
    expect([chartNumber(21.5), chartNumber(true), chartNumber(false), chartNumber('x'), chartNumber(undefined), chartNumber(Number.NaN)]).toEqual([21.5, 1, 0, null, null, null]);
  });
});

describe('MQTT payloads', () => {
  it('encodes plain values the way Home Assistant expects', () => {
    expect([MQTT_ON, MQTT_OFF]).toEqual(['ON', 'OFF']);
    expect(valueToMqtt(true)).toBe('ON');
    expect(valueToMqtt(false)).toBe('OFF');
    expect(valueToMqtt(21.5)).toBe('21.5');
    expect(valueToMqtt(-3)).toBe('-3');
    expect(valueToMqtt('comfort')).toBe('comfort');
  });

  it('reads plain values, JSON values and {"value": ...}; text capabilities keep the text', () => {
    expect(inputFromMqtt(C.setpoint, '21.5')).toEqual({ ok: true, input: 21.5 });
    expect(inputFromMqtt(C.on, 'ON')).toEqual({ ok: true, input: 'ON' });
    expect(inputFromMqtt(C.on, 'true')).toEqual({ ok: true, input: true });
    expect(inputFromMqtt(C.setpoint, '{"value": 19}')).toEqual({ ok: true, input: 19 });
    expect(inputFromMqtt(C.label, '123')).toEqual({ ok: true, input: '123' });
    expect(inputFromMqtt(C.label, '"quoted"')).toEqual({ ok: true, input: 'quoted' });
    expect(inputFromMqtt(C.mode, 'true')).toEqual({ ok: true, input: 'true' });
    expect(inputFromMqtt(C.mode, '{"value": 1}')).toEqual({ ok: true, input: 1 });
    expect(inputFromMqtt(undefined, '5')).toEqual({ ok: true, input: 5 });
  });

  it('names the problem of null, an array or an object without "value"', () => {
    expect(inputFromMqtt(C.on, 'null')).toEqual({ ok: false, problem: 'payload must be a value or {"value": ...}, got null' });
    expect(inputFromMqtt(C.on, '[1]')).toEqual({ ok: false, problem: 'payload must be a value or {"value": ...}, got [1]' });
    expect(inputFromMqtt(C.on, '{"v": 1}')).toEqual({ ok: false, problem: 'JSON object payload needs a "value" field, got {"v": 1}' });
    const long = `[${'1,'.repeat(30)}1]`;
    expect(inputFromMqtt(C.on, long)).toEqual({ ok: false, problem: `payload must be a value or {"value": ...}, got ${long.slice(0, 40)}...` });
  });

  it('wraps a command value as {"value": ...}, which reads back as the same input for every value type', () => {
    expect(commandToMqtt('123')).toBe('{"value":"123"}');
    expect(commandToMqtt(true)).toBe('{"value":true}');
    const cases: [Capability, JsonValue][] = [[C.on, false], [C.level, 42], [C.setpoint, 21.5], [C.label, '123'], [C.mode, 'away']];
    for (const [c, value] of cases) expect({ value, back: inputFromMqtt(c, commandToMqtt(value)) }).toEqual({ value, back: { ok: true, input: value } });
  });

  it('MQTT payload -> input -> value -> JSON -> payload is the identity for every value type', () => {
    const cases: [Capability, string][] = [[C.on, 'ON'], [C.on, 'OFF'], [C.level, '42'], [C.setpoint, '21.5'], [C.label, 'some text'], [C.mode, 'away']];
    for (const [c, payload] of cases) {
      const input = inputFromMqtt(c, payload);
      const parsed = input.ok ? valueFromJson(c, input.input) : input;
      expect({ payload, back: parsed.ok ? valueToMqtt(valueToJson(c, parsed.value)) : parsed.problem }).toEqual({ payload, back: payload });
    }
  });
});

describe('command input -> typed value', () => {
  const ok = (value: Value) => ({ ok: true, value });

  it('bool: booleans, 0/1 and ON/OFF/true/false/1/0 in any case and spacing', () => {
    for (const input of [true, 1, 'ON', 'on', ' True ', '1']) expect(valueFromJson(C.on, input)).toEqual(ok({ type: 'bool', value: true }));
    for (const input of [false, 0, 'OFF', 'Off', 'false', '0']) expect(valueFromJson(C.on, input)).toEqual(ok({ type: 'bool', value: false }));
    expect(valueFromJson(C.on, 'yes')).toEqual({ ok: false, problem: 'on takes true/false or ON/OFF, got "yes"' });
    expect(valueFromJson(C.on, 2)).toEqual({ ok: false, problem: 'on takes true/false or ON/OFF, got 2' });
    expect(valueFromJson(C.on, null)).toEqual({ ok: false, problem: 'on takes true/false or ON/OFF, got null' });
  });

  it('int: whole numbers within the range, numeric strings too', () => {
    expect(valueFromJson(C.level, 42)).toEqual(ok({ type: 'int', value: 42 }));
    expect(valueFromJson(C.level, ' 7 ')).toEqual(ok({ type: 'int', value: 7 }));
    expect(valueFromJson(C.level, 4.5)).toEqual({ ok: false, problem: 'level takes an integer, got 4.5' });
    expect(valueFromJson(C.level, 101)).toEqual({ ok: false, problem: 'level must be between 0 and 100, got 101' });
    expect(valueFromJson(C.level, '')).toEqual({ ok: false, problem: 'level takes a number, got ""' });
    expect(valueFromJson(C.level, true)).toEqual({ ok: false, problem: 'level takes a number, got true' });
  });

  it('float: finite numbers within the range, numeric strings too', () => {
    expect(valueFromJson(C.setpoint, 21.5)).toEqual(ok({ type: 'float', value: 21.5 }));
    expect(valueFromJson(C.setpoint, '22.5')).toEqual(ok({ type: 'float', value: 22.5 }));
    expect(valueFromJson(C.setpoint, 99)).toEqual({ ok: false, problem: 'setpoint must be between 5 and 30, got 99' });
    expect(valueFromJson(C.setpoint, 'warm')).toEqual({ ok: false, problem: 'setpoint takes a number, got "warm"' });
    expect(valueFromJson(C.setpoint, Number.NaN)).toEqual({ ok: false, problem: 'setpoint takes a number, got null' });
    expect(valueFromJson(cap({ name: 'free', valueType: 'float' }), -1e300)).toEqual(ok({ type: 'float', value: -1e300 }));
  });

  it('string: text of at most 255 bytes of UTF-8', () => {
    expect(valueFromJson(C.label, 'héllo')).toEqual(ok({ type: 'string', value: 'héllo' }));
    expect(valueFromJson(C.label, 'é'.repeat(127) + 'x')).toEqual(ok({ type: 'string', value: 'é'.repeat(127) + 'x' }));
    expect(valueFromJson(C.label, 'é'.repeat(128))).toEqual({ ok: false, problem: 'label is longer than 255 bytes' });
    expect(valueFromJson(C.label, 123)).toEqual({ ok: false, problem: 'label takes a string, got 123' });
  });

  it('enum: an option name or its index', () => {
    expect(valueFromJson(C.mode, 'away')).toEqual(ok({ type: 'enum', value: 2 }));
    expect(valueFromJson(C.mode, 0)).toEqual(ok({ type: 'enum', value: 0 }));
    expect(valueFromJson(C.mode, 'turbo')).toEqual({ ok: false, problem: 'mode takes one of eco, comfort, away, got "turbo"' });
    expect(valueFromJson(C.mode, 3)).toEqual({ ok: false, problem: 'mode takes one of eco, comfort, away, got 3' });
    expect(valueFromJson(C.mode, 1.5)).toEqual({ ok: false, problem: 'mode takes one of eco, comfort, away, got 1.5' });
  });

  it('shortens a long input in the message', () => {
    const long = 'x'.repeat(100);
    expect(valueFromJson(C.setpoint, long)).toEqual({ ok: false, problem: `setpoint takes a number, got ${JSON.stringify(long).slice(0, 40)}...` });
  });

  it('JSON -> value -> JSON is the identity for every value type', () => {
    const cases: [Capability, JsonValue][] = [[C.on, true], [C.on, false], [C.level, 42], [C.setpoint, 5.25], [C.label, ''], [C.mode, 'eco']];
    for (const [c, json] of cases) {
      const parsed = valueFromJson(c, json);
      expect({ json, back: parsed.ok ? valueToJson(c, parsed.value) : parsed.problem }).toEqual({ json, back: json });
    }
  });
});
