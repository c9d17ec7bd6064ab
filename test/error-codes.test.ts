// protocol/error-codes.ts is the one registry of error codes; this test fails when the sources, the registry
// and the documents disagree about which codes exist, how each is answered and where each is tabled.
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLOSE_CODES } from '../protocol/constants.js';
import {
  ERROR_CODES,
  HTTP_STATUSES,
  PROTOCOL_ERROR_CODES,
  SESSION_CLOSE_CODES,
  UPGRADE_STATUSES,
  type ErrorAnswers,
  type ErrorCodeEntry,
  type ErrorDoc,
} from '../protocol/error-codes.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const registry: Record<string, ErrorCodeEntry> = ERROR_CODES;
const REGISTRY_FILE = 'protocol/error-codes.ts';
// A code ends in a letter or digit, so a prefix such as `HUB_ERR_METRIC_` in a pattern is not one.
const CODE = String.raw`(?:HUB|PROTO)_ERR_[A-Z0-9_]*[A-Z0-9]\b`;
const DOCS: readonly ErrorDoc[] = ['firmware-protocol.md', 'docs/api.md', 'docs/mqtt.md', 'docs/operations.md'];

/** Files under `dirs` (relative to the root) whose names end in one of `exts`, as [path, text]. */
function files(dirs: string[], exts: string[]): [string, string][] {
  const out: [string, string][] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (entry === 'node_modules' || entry === 'dist') continue;
      if (statSync(path).isDirectory()) walk(path);
      else if (exts.some((e) => entry.endsWith(e))) out.push([relative(root, path), readFileSync(path, 'utf8')]);
    }
  };
  for (const dir of dirs) walk(join(root, dir));
  return out;
}

const isSupport = (path: string) => path.endsWith('.test.ts') || path.split('/').includes('testing');
const everything = files(['protocol', 'hub', 'device-sim', 'dashboard', 'bench', 'test'], ['.ts', '.mjs', '.html']);
/** The product's sources: what devices, users and operators can meet. */
const sources = everything.filter(([path]) => !isSupport(path) && path !== REGISTRY_FILE && !path.startsWith('test/') && !path.startsWith('bench/'));
const documents = files(['.'], ['.md']).filter(([path]) => !path.startsWith('node_modules'));

/** The registry's answers of a code as comparable strings ('close 1007', 'http 404', 'log', ...). */
function answerList(a: ErrorAnswers): string[] {
  return Object.entries(a)
    .map(([kind, value]) => (value === true ? kind : `${kind} ${String(value)}`))
    .sort();
}

/** One cell of a document's answer column, as answerList() writes it. In firmware-protocol.md a bare
 * number is a close code and every HTTP status is an upgrade's: a device makes no other HTTP request. */
function parseAnswers(doc: ErrorDoc, cell: string): string[] {
  return cell
    .split(', ')
    .map((token) => {
      let m: RegExpExecArray | null;
      if ((m = /^(?:close )?(\d{4})$/.exec(token))) return `close ${m[1]}`;
      if ((m = /^upgrade HTTP (\d{3})$/.exec(token))) return `upgrade ${m[1]}`;
      if ((m = /^HTTP (\d{3})$/.exec(token))) return `${doc === 'firmware-protocol.md' ? 'upgrade' : 'http'} ${m[1]}`;
      if ((m = /^CONNACK (\d)$/.exec(token))) return `connack ${m[1]}`;
      if (token === 'log' || token === 'thrown' || token === 'dashboard') return token;
      return `unreadable "${token}"`;
    })
    .sort();
}

/** The error-code rows of a document's tables: code -> answer cells (one per row naming it). */
function tabled(doc: ErrorDoc): Map<string, string[]> {
  const text = readFileSync(join(root, doc), 'utf8');
  const rows = new Map<string, string[]>();
  for (const m of text.matchAll(new RegExp(String.raw`^\| \x60(${CODE})\x60 \| ([^|]+?) \|`, 'gm'))) {
    rows.set(m[1]!, [...(rows.get(m[1]!) ?? []), m[2]!]);
  }
  return rows;
}

describe('error codes: the sources and the registry', () => {
  it('every code named anywhere in the repository (sources, tests, documents) is in the registry', () => {
    const unknown: string[] = [];
    for (const [path, text] of [...everything, ...documents]) {
      for (const m of text.matchAll(new RegExp(CODE, 'g'))) if (!(m[0] in registry)) unknown.push(`${path}: ${m[0]}`);
    }
    expect(unknown).toEqual([]);
  });

  it('every registry code is used as a string by a source of hub/, protocol/, device-sim/ or dashboard/', () => {
    const used = new Set<string>();
    for (const [, text] of sources) {
      // Comments do not count: a code only a comment names is not answered by anything.
      const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
      for (const m of code.matchAll(new RegExp(String.raw`['"\x60](${CODE})`, 'g'))) used.add(m[1]!);
    }
    expect(Object.keys(registry).filter((c) => !used.has(c))).toEqual([]);
  });

  it("the HTTP statuses written beside a code in the sources are the registry's", () => {
    const found: string[] = [];
    const wrong: string[] = [];
    // HttpError(404, 'X'), sendJson(res, 404, { error: 'X' }), refuseUpgrade(socket, 403, { error: 'X' }), status: 401, code: 'X'
    const pattern = new RegExp(String.raw`(?:\b(\d{3}), (?:\{ error: )?|status: (\d{3}), code: )'(${CODE})'`, 'g');
    for (const [path, text] of sources) {
      for (const m of text.matchAll(pattern)) {
        const status = Number(m[1] ?? m[2]);
        const { http, upgrade } = registry[m[3]!]?.answered ?? {};
        found.push(m[3]!);
        if (status !== http && status !== upgrade) wrong.push(`${path}: ${status} ${m[3]} (registry: http ${http}, upgrade ${upgrade})`);
      }
    }
    expect(found.length).toBeGreaterThan(20);
    expect(wrong).toEqual([]);
  });

  it('no derived table mixes close codes with HTTP statuses', () => {
    const closeCodes = new Set<number>(Object.values(CLOSE_CODES));
    for (const table of [PROTOCOL_ERROR_CODES, SESSION_CLOSE_CODES]) {
      expect(Object.entries(table).filter(([, n]) => !closeCodes.has(n))).toEqual([]);
    }
    for (const table of [UPGRADE_STATUSES, HTTP_STATUSES]) {
      expect(Object.entries(table).filter(([, n]) => !(n >= 400 && n <= 599))).toEqual([]);
    }
    expect(Object.keys(PROTOCOL_ERROR_CODES).every((c) => c.startsWith('PROTO_ERR_'))).toBe(true);
    expect(Object.keys(SESSION_CLOSE_CODES).every((c) => c.startsWith('HUB_ERR_'))).toBe(true);
  });
});

describe('error codes: the registry and the documents', () => {
  const tables = new Map(DOCS.map((doc) => [doc, tabled(doc)] as const));

  it('each code is tabled in every document its entry names, once, and in no other', () => {
    const problems: string[] = [];
    for (const [code, entry] of Object.entries(registry)) {
      for (const doc of DOCS) {
        const rows = tables.get(doc)!.get(code) ?? [];
        const wanted = entry.docs.includes(doc) ? 1 : 0;
        if (rows.length !== wanted) problems.push(`${code}: ${rows.length} rows in ${doc}, want ${wanted}`);
      }
    }
    for (const [doc, rows] of tables) for (const code of rows.keys()) if (!(code in registry)) problems.push(`${doc}: ${code} is not in the registry`);
    expect(problems).toEqual([]);
  });

  it("the documents' tables state together exactly the registry's answers of each code", () => {
    for (const [code, entry] of Object.entries(registry)) {
      const stated = entry.docs.flatMap((doc) => (tables.get(doc)!.get(code) ?? []).flatMap((cell) => parseAnswers(doc, cell)));
      expect({ code, answers: [...new Set(stated)].sort() }).toEqual({ code, answers: answerList(entry.answered) });
    }
  });

  it("a status or close code written beside a code in the documents' prose is the registry's", () => {
    const checked: string[] = [];
    const wrong: string[] = [];
    const check = (doc: string, code: string, n: number) => {
      const a = registry[code]?.answered ?? {};
      checked.push(code);
      const ok = n >= 1000 ? a.close === n : a.http === n || a.upgrade === n;
      if (!ok) wrong.push(`${doc}: ${n} ${code} (registry: ${answerList(a).join(', ')})`);
    };
    for (const [doc, raw] of documents) {
      const text = raw.replace(/\s+/g, ' ');
      // `404 HUB_ERR_NOT_FOUND`, HTTP 401 (`HUB_ERR_UNKNOWN_DEVICE`), 1001 (`HUB_ERR_SHUTDOWN`); not "0 to 4096 (`PROTO_ERR_LIMIT` above)"
      for (const m of text.matchAll(new RegExp(String.raw`\x60(\d{3}) (${CODE})\x60|(?:HTTP (\d{3})|\b(\d{4})) \(\x60(${CODE})\x60\)`, 'g'))) {
        check(doc, (m[2] ?? m[5])!, Number(m[1] ?? m[3] ?? m[4]));
      }
      // HTTP 400 and a JSON body `{"error":"HUB_ERR_SUBPROTOCOL", ...
      for (const m of text.matchAll(new RegExp(String.raw`HTTP (\d{3}) [^\x60]{0,30}\x60\{"error":"(${CODE})"`, 'g'))) check(doc, m[2]!, Number(m[1]));
      // ERROR `HUB_ERR_TEXT_FRAME` and closes with 1003
      for (const m of text.matchAll(new RegExp(String.raw`\x60(${CODE})\x60 and (?:closes with|close) (\d{4})`, 'g'))) check(doc, m[1]!, Number(m[2]));
    }
    expect(checked.length).toBeGreaterThan(10);
    expect(wrong).toEqual([]);
  });
});
