// Section 14 of firmware-protocol.md (firmware updates, protocol 1.1) against the code: its tables are the
// constants of protocol/ota-constants.ts, and every update frame type has a byte-commented valid vector
// there. (The vector blocks themselves are checked with all others by spec-sync.test.ts.)
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, FLAG_UPDATES, OTA_FRAME_TYPE_CODES, OTA_LIMITS, sentByDevice, sentByHub, UPDATE_DECISION_CODES, UPDATE_RESULT_CODES, type FrameType } from './index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const doc = readFileSync(join(root, 'firmware-protocol.md'), 'utf8');
const section14 = doc.slice(doc.search(/^## 14\. /m));

/** The rows of the markdown table after `<!-- table: name -->`, header and rule excluded, backticks removed. */
function docTable(name: string): string[][] {
  const start = section14.indexOf(`<!-- table: ${name} -->`);
  if (start < 0) throw new Error(`section 14 has no table "${name}"`);
  const rows: string[][] = [];
  for (const line of section14.slice(start).split('\n').slice(1)) {
    if (!line.startsWith('|')) break;
    rows.push(line.split('|').slice(1, -1).map((cell) => cell.trim().replace(/`/g, '')));
  }
  return rows.slice(2);
}

const tableMap = (name: string, keyCol: number, valueCol: number) => Object.fromEntries(docTable(name).map((r) => [r[keyCol], Number(r[valueCol])]));

describe('section 14 of firmware-protocol.md is protocol/ota-constants.ts', () => {
  it('[FP-14.2][FP-7.3] update frame type codes and their direction', () => {
    const rows = docTable('ota-frame-types');
    expect(Object.fromEntries(rows.map((r) => [r[2], Number(r[0])]))).toEqual({ ...OTA_FRAME_TYPE_CODES });
    for (const [, , type, sender] of rows) {
      const t = type as FrameType;
      expect({ type, sender }).toEqual({ type, sender: sentByDevice(t) ? (sentByHub(t) ? 'both' : 'device') : 'hub' });
    }
  });

  it('[FP-14.4] answer decisions, [FP-14.7] result statuses, [FP-14.9] limits', () => {
    expect(tableMap('update-decisions', 1, 0)).toEqual({ ...UPDATE_DECISION_CODES });
    expect(tableMap('update-results', 1, 0)).toEqual({ ...UPDATE_RESULT_CODES });
    expect(tableMap('ota-limits', 0, 1)).toEqual({ ...OTA_LIMITS });
  });

  it('[FP-14.1] the UPDATES flag is bit 1 of the header, as the document and section 3 say', () => {
    expect(FLAG_UPDATES).toBe(0x02);
    expect(section14).toContain('`UPDATES` (mask `0x02`)');
    expect(doc).toMatch(/\| 1 \| UPDATES \| On HELLO/);
  });

  it('[FP-14.2] every update frame type has a byte-commented valid vector in section 14', () => {
    const types = new Set<string>();
    for (const m of section14.matchAll(/^```vector valid [a-z0-9-]+\n([\s\S]*?)^```$/gm)) {
      const body = m[1]!;
      if (!/#/.test(body)) continue;
      types.add((JSON.parse(body.slice(body.search(/^=> /m) + 3)) as { type: string }).type);
    }
    for (const type of Object.keys(OTA_FRAME_TYPE_CODES)) expect({ type, vector: types.has(type) }).toEqual({ type, vector: true });
  });

  it('[FP-14.5] the chunk CRC is zlib\'s CRC-32: the check value of "123456789"', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });
});
