// firmware-protocol.md is the contract; this test fails when the document and the code disagree:
// vectors, code tables, limits, the compactness target, and requirement numbers cited in the code.
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OTA_FRAME_TYPE_CODES } from './ota-constants.js';
import {
  CAPABILITY_FLAGS,
  CLOSE_CODES,
  COMMAND_STATUS_CODES,
  DEFAULT_COMMAND_TIMEOUT_MS,
  encode,
  ERROR_CODES,
  FRAME_TYPE_CODES,
  fromHex,
  LIMITS,
  PROTOCOL_ERROR_CODES,
  SESSION_CLOSE_CODES,
  SUBPROTOCOLS,
  sentByDevice,
  sentByHub,
  toHex,
  UPGRADE_STATUSES,
  VALUE_TAGS,
  VALUE_TYPE_CODES,
  Writer,
  type ErrorCodeEntry,
  type FrameType,
  type Value,
} from './index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const doc = readFileSync(join(root, 'firmware-protocol.md'), 'utf8');
const vectors = JSON.parse(readFileSync(join(root, 'protocol', 'vectors.json'), 'utf8')) as Record<
  'valid' | 'decodeOnly' | 'errors',
  { name: string; hex: string; frame?: unknown; code?: string; closeCode?: number }[]
>;

// ---- parsing the document -------------------------------------------------------------------------

interface DocVector {
  kind: 'valid' | 'decode-only' | 'error';
  name: string;
  hex: string;
  result: string;
  offset: number;
}

/** Every ```vector <kind> <name> block: hex lines (# starts a comment), then `=> ` and the result. */
function docVectors(text: string): DocVector[] {
  const out: DocVector[] = [];
  for (const m of text.matchAll(/^```vector (valid|decode-only|error) ([a-z0-9-]+)\n([\s\S]*?)^```$/gm)) {
    const [, kind, name, body] = m as unknown as [string, DocVector['kind'], string, string];
    const at = body.search(/^=> /m);
    if (at < 0) throw new Error(`vector block ${name} has no "=> " result line`);
    const hexText = body
      .slice(0, at)
      .split('\n')
      .map((line) => line.split('#')[0]!)
      .join(' ');
    out.push({ kind, name, hex: toHex(fromHex(hexText), ' '), result: body.slice(at + 3).trim(), offset: m.index });
  }
  return out;
}

/** The rows of the markdown table after `<!-- table: name -->`, header and rule excluded, backticks removed. */
function docTable(name: string): string[][] {
  const start = doc.indexOf(`<!-- table: ${name} -->`);
  if (start < 0) throw new Error(`firmware-protocol.md has no table "${name}"`);
  const lines = doc.slice(start).split('\n').slice(1);
  const rows: string[][] = [];
  for (const line of lines) {
    if (!line.startsWith('|')) break;
    rows.push(line.split('|').slice(1, -1).map((cell) => cell.trim().replace(/`/g, '')));
  }
  return rows.slice(2);
}

/** Name -> number from two columns of a table, failing on a name listed twice. */
function tableMap(name: string, keyCol: number, valueCol: number): Record<string, number> {
  const map: Record<string, number> = {};
  for (const row of docTable(name)) {
    const key = row[keyCol]!;
    expect(map).not.toHaveProperty(key);
    map[key] = Number(row[valueCol]!.replace(/^HTTP /, ''));
  }
  return map;
}

function section(n: number): string {
  const start = doc.search(new RegExp(`^## ${n}\\. `, 'm'));
  const end = doc.search(new RegExp(`^## ${n + 1}\\. `, 'm'));
  return doc.slice(start, end < 0 ? undefined : end);
}

// ---- (1) vectors ------------------------------------------------------------------------------------

describe('[FP-12.1] the vectors in firmware-protocol.md are those of protocol/vectors.json', () => {
  const inDoc = docVectors(doc);
  const kinds = { valid: 'valid', decodeOnly: 'decode-only', errors: 'error' } as const;
  const inFile = new Map(
    (Object.keys(kinds) as (keyof typeof kinds)[]).flatMap((k) => vectors[k].map((v) => [v.name, { ...v, kind: kinds[k] }] as const)),
  );

  it('[FP-12.1] every vector block of the document is in the file, with the same kind, hex and result', () => {
    expect(inDoc.length).toBeGreaterThan(0);
    for (const d of inDoc) {
      const f = inFile.get(d.name);
      expect({ name: d.name, kind: f?.kind, hex: f?.hex }).toEqual({ name: d.name, kind: d.kind, hex: d.hex });
      if (d.kind === 'error') expect(d.result).toBe(`${f!.code} ${f!.closeCode}`);
      else expect(JSON.parse(d.result)).toEqual(f!.frame);
    }
  });

  it('[FP-12.1][FP-14.2] every vector of the file is listed in section 12 of the document (the update frames\' in section 14)', () => {
    const section12 = new Set(docVectors(section(12) + section(14)).map((d) => d.name));
    expect([...inFile.keys()].filter((name) => !section12.has(name))).toEqual([]);
  });

  it('[FP-12.1] each frame type of section 6 has a byte-commented example', () => {
    const examples = docVectors(section(6)).filter((d) => d.kind === 'valid');
    const types = new Set(examples.map((d) => (JSON.parse(d.result) as { type: FrameType }).type));
    expect([...types].sort()).toEqual([...Object.keys(FRAME_TYPE_CODES), 'extension'].sort());
  });
});

// ---- (1b) the JSON form of frames [FP-12.2] ---------------------------------------------------------

describe('[FP-12.2] the JSON form of the vectors is the frame-json table of the document', () => {
  interface Field {
    json: string;
    always: boolean;
  }
  const objects = new Map<string, Map<string, Field>>();
  for (const [object, field, json, present] of docTable('frame-json')) {
    if (!objects.has(object!)) objects.set(object!, new Map());
    expect(objects.get(object!)!.has(field!)).toBe(false);
    objects.get(object!)!.set(field!, { json: json!, always: present!.startsWith('always') });
  }
  const seen = new Map<string, Set<string>>();
  const frames = (['valid', 'decodeOnly'] as const).flatMap((k) => vectors[k].map((v) => ({ name: v.name, frame: v.frame })));

  /** Problems of `value` as a JSON `object` of the table (fields, presence, JSON types), recursively. */
  function problemsOf(object: string, value: unknown, path: string): string[] {
    const fields = objects.get(object);
    if (!fields) return [`${path}: no object "${object}" in the table`];
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${path}: not a JSON object`];
    const record = value as Record<string, unknown>;
    const out: string[] = [];
    for (const [name, field] of fields) if (field.always && !(name in record)) out.push(`${path}.${name}: missing`);
    for (const [name, v] of Object.entries(record)) {
      const field = fields.get(name);
      if (!field) {
        out.push(`${path}.${name}: not in the table`);
        continue;
      }
      (seen.get(object) ?? seen.set(object, new Set()).get(object)!).add(name);
      out.push(...problemsOfJson(field.json, v, `${path}.${name}`, record));
    }
    return out;
  }

  function problemsOfJson(json: string, v: unknown, path: string, parent: Record<string, unknown>): string[] {
    const fail = [`${path}: ${JSON.stringify(v)} is not ${json}`];
    const arrayOf = /^array of (\w+)$/.exec(json);
    if (arrayOf) {
      if (!Array.isArray(v)) return fail;
      const item = arrayOf[1]!;
      return v.flatMap((x, i) => (objects.has(item) ? problemsOf(item, x, `${path}[${i}]`) : typeof x === item ? [] : fail));
    }
    if (objects.has(json)) return problemsOf(json, v, path);
    if (json.startsWith('"')) return v === JSON.parse(json) ? [] : fail;
    if (json === 'true') return v === true ? [] : fail;
    if (json === 'hex string') return typeof v === 'string' && /^(?:[0-9a-f]{2})*$/.test(v) ? [] : fail;
    if (json === 'boolean, number or string') {
      const want = parent.type === 'bool' ? 'boolean' : parent.type === 'string' ? 'string' : 'number';
      return typeof v === want ? [] : fail;
    }
    if (['number', 'string', 'boolean'].includes(json)) return typeof v === json ? [] : fail;
    return [`${path}: the table's JSON kind "${json}" is not one this test knows`];
  }

  it('[FP-12.2] every valid and decode-only vector has exactly the fields of the table, of its JSON types', () => {
    const problems = frames.flatMap(({ name, frame }) => problemsOf((frame as { type: string }).type, frame, name));
    expect(problems).toEqual([]);
  });

  it('[FP-12.2] the table has one object per frame type and per nested object, and the vectors use each of its fields', () => {
    for (const { name, frame } of frames) problemsOf((frame as { type: string }).type, frame, name);
    const frameTypes = [...Object.keys(FRAME_TYPE_CODES), ...Object.keys(OTA_FRAME_TYPE_CODES), 'extension'];
    expect([...objects.keys()].sort()).toEqual([...frameTypes, 'capability', 'reading', 'sample', 'value'].sort());
    const unused = [...objects].flatMap(([object, fields]) => [...fields.keys()].filter((f) => !seen.get(object)?.has(f)).map((f) => `${object}.${f}`));
    expect(unused).toEqual([]);
  });
});

// ---- (2) codes and numbers ------------------------------------------------------------------------

describe('the tables of firmware-protocol.md are the constants of protocol/constants.ts', () => {
  it('[FP-11.1] close codes: every CLOSE_CODES entry with its number, and nothing else', () => {
    expect(tableMap('close-codes', 1, 0)).toEqual({ ...CLOSE_CODES });
  });

  it('[FP-11.2] error codes: every PROTOCOL_ERROR_CODES and SESSION_CLOSE_CODES entry with its close code, every device refusal with its HTTP status, and nothing else', () => {
    const registry: Record<string, ErrorCodeEntry> = ERROR_CODES;
    const documented: Record<string, string> = {};
    for (const [code, answer] of docTable('error-codes')) {
      expect(documented).not.toHaveProperty(code!);
      documented[code!] = answer!;
    }
    const expected: Record<string, string> = {};
    const add = (code: string, text: string) => (expected[code] = expected[code] === undefined ? text : `${expected[code]}, ${text}`);
    for (const [code, close] of Object.entries({ ...PROTOCOL_ERROR_CODES, ...SESSION_CLOSE_CODES })) add(code, String(close));
    // The device endpoint's upgrade refusals; the HTTPS port's others (404 elsewhere, /mqtt's origin) are not a device's concern.
    for (const [code, status] of Object.entries(UPGRADE_STATUSES)) {
      if (registry[code]!.docs.includes('firmware-protocol.md')) add(code, `HTTP ${status}`);
    }
    expect(documented).toEqual(expected);
  });

  it('[FP-3.2][FP-7.3] frame type codes and their direction', () => {
    const rows = docTable('frame-types');
    expect(Object.fromEntries(rows.map((r) => [r[2], Number(r[0])]))).toEqual({ ...FRAME_TYPE_CODES });
    for (const [, , type, sender] of rows) {
      const t = type as FrameType;
      expect({ type, sender }).toEqual({ type, sender: sentByDevice(t) ? (sentByHub(t) ? 'both' : 'device') : 'hub' });
    }
  });

  it('[FP-5.2] value tags', () => {
    expect(tableMap('value-tags', 1, 0)).toEqual({ ...VALUE_TAGS });
  });

  it('[FP-5.1][FP-6.1] value type codes and capability flags', () => {
    expect(tableMap('value-types', 0, 1)).toEqual({ ...VALUE_TYPE_CODES });
    expect(tableMap('capability-flags', 1, 0)).toEqual({ ...CAPABILITY_FLAGS });
  });

  it('[FP-6.7] command status codes', () => {
    expect(tableMap('command-status', 1, 0)).toEqual({ ...COMMAND_STATUS_CODES });
  });

  it('[FP-9.1] limits', () => {
    expect(tableMap('limits', 0, 1)).toEqual({ ...LIMITS });
  });

  it('[FP-4.1] the varint examples are what the Writer produces', () => {
    for (const [value, bytes] of docTable('varint-examples')) {
      const n = /^2\^(\d+)-1$/.test(value!) ? 2 ** Number(value!.slice(2, -2)) - 1 : Number(value);
      const w = new Writer();
      w.varint(n);
      expect({ value, bytes: toHex(w.toBytes(), ' ') }).toEqual({ value, bytes });
    }
  });

  it('[FP-5.2] the value examples are what the Writer produces', () => {
    for (const [text, bytes] of docTable('value-examples')) {
      const [, type, literal] = /^(bool|int|float|string|enum) (\S+)/.exec(text!)!;
      const value = (type === 'bool' ? { type, value: literal === 'true' } : { type, value: JSON.parse(literal!) as unknown }) as Value;
      const w = new Writer();
      w.value(value);
      expect({ text, bytes: toHex(w.toBytes(), ' ') }).toEqual({ text, bytes });
    }
  });
});

// ---- (2b) protocol 1.1 -------------------------------------------------------------------------------

describe('protocol 1.1 in the document is protocol 1.1 in the code [FP-2.2] [FP-6.2] [FP-10.2]', () => {
  it('[FP-6.2] the WELCOME table lists the fields of the 1.1 vector in wire order, with the 1.0 default answer time', () => {
    const rows = docTable('welcome-fields');
    const v11 = vectors.valid.find((v) => v.name === 'welcome-1-1-command-timeout')!.frame as Record<string, unknown>;
    expect(rows.map((r) => r[0])).toEqual(Object.keys(v11).filter((k) => k !== 'type'));
    expect(rows.at(-1)).toEqual(['commandTimeoutMs', 'varint', expect.stringContaining('1.1 only'), String(DEFAULT_COMMAND_TIMEOUT_MS)]);
  });

  it('[FP-2.2][FP-10.2] section 2 names every subprotocol the hub speaks, newest first, as the hub prefers them', () => {
    const text = section(2);
    for (const token of SUBPROTOCOLS) expect(text).toContain(`\`${token}\``);
    expect(text).toContain(`(\`${SUBPROTOCOLS.join('` before `')}\`)`);
  });
});

// ---- (3) compactness --------------------------------------------------------------------------------

describe('compactness [FP-6.3]', () => {
  it('[FP-6.3] a 2-float TELEMETRY is <= 24 bytes and <= 1/3 of the same content as minified JSON', () => {
    const seq = 123_456;
    const ts = Date.UTC(2025, 0, 1, 12, 0, 0);
    const readings = [
      { metric: 1, name: 'temperature', value: 21.5 },
      { metric: 2, name: 'humidity', value: 48.25 },
    ];
    const binary = encode({
      type: 'telemetry',
      seq,
      ts,
      readings: readings.map((r) => ({ metric: r.metric, value: { type: 'float', value: r.value } })),
    }).length;
    const json = JSON.stringify({ seq, ts, readings: readings.map((r) => ({ metric: r.name, value: r.value })) }).length;
    expect(binary).toBeLessThanOrEqual(24);
    expect(binary * 3).toBeLessThanOrEqual(json);
  });
});

// ---- requirement numbers ----------------------------------------------------------------------------

describe('requirement numbers', () => {
  // A requirement is defined where a paragraph starts with it in bold; everywhere else it is referred to.
  const defined = new Map<string, number>();
  const misplaced: string[] = [];
  let currentSection = 0;
  for (const line of doc.split('\n')) {
    const heading = /^## (\d+)\. /.exec(line);
    if (heading) currentSection = Number(heading[1]);
    const def = /^\*\*\[(FP-(\d+)\.\d+)\]\*\*/.exec(line);
    if (def) {
      if (Number(def[2]) !== currentSection) misplaced.push(`${def[1]} in section ${currentSection}`);
      defined.set(def[1]!, (defined.get(def[1]!) ?? 0) + 1);
    }
  }
  const isDefined = (id: string) => defined.has(id) || (!id.includes('.') && [...defined.keys()].some((d) => d.startsWith(`${id}.`)));

  it('each requirement is defined once, in its own section, and the numbers the constants cite are among them', () => {
    expect(defined.size).toBeGreaterThan(40);
    expect([...defined].filter(([, n]) => n > 1)).toEqual([]);
    expect(misplaced).toEqual([]);
    for (const id of ['FP-2.1', 'FP-2.2', 'FP-3.1', 'FP-3.2', 'FP-3.3', 'FP-4.1', 'FP-5.1', 'FP-5.2', 'FP-5.3', 'FP-6.1', 'FP-10.2', 'FP-11.1', 'FP-11.2']) {
      expect({ id, defined: defined.has(id) }).toEqual({ id, defined: true });
    }
  });

  it('every [FP-x.y] the document refers to is defined in it', () => {
    const refs = [...new Set([...doc.matchAll(/FP-\d+(?:\.\d+)?/g)].map((m) => m[0]))];
    expect(refs.filter((id) => !isDefined(id))).toEqual([]);
  });

  it('every FP number cited in the TypeScript sources and tests of the repository is defined in the document', () => {
    const undefinedCitations: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir)) {
        const path = join(dir, entry);
        if (statSync(path).isDirectory()) walk(path);
        else if (path.endsWith('.ts')) {
          readFileSync(path, 'utf8')
            .split('\n')
            .forEach((line, i) => {
              for (const m of line.matchAll(/FP-\d+(?:\.\d+)?/g)) {
                if (!isDefined(m[0])) undefinedCitations.push(`${path.slice(root.length)}:${i + 1} ${m[0]}`);
              }
            });
        }
      }
    };
    for (const dir of ['protocol', 'hub', 'device-sim', 'dashboard', 'bench', 'test']) {
      try {
        if (statSync(join(root, dir)).isDirectory()) walk(join(root, dir));
      } catch {
        // A part that does not exist yet cites nothing.
      }
    }
    expect(undefinedCitations).toEqual([]);
  });
});
