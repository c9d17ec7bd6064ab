import { describe, expect, it } from '@jest/globals';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countOpenFiles, raiseOpenFileLimit, readOpenFileLimits } from './open-files.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max processes             63448                63448                processes
Max open files            1024                 unlimited            files
Max locked memory         8388608              8388608              bytes
`;

describe('open files', () => {
  it('reads the soft and hard RLIMIT_NOFILE from a /proc/<pid>/limits text, "unlimited" as Infinity', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-limits-'));
    try {
      writeFileSync(join(dir, 'limits'), LIMITS);
      writeFileSync(join(dir, 'empty'), 'Limit Soft Hard\n');
      expect(readOpenFileLimits(join(dir, 'limits'))).toEqual({ soft: 1024, hard: Infinity });
      expect(readOpenFileLimits(join(dir, 'empty'))).toBeNull();
      expect(readOpenFileLimits(join(dir, 'absent'))).toBeNull();
      // only this process's own limits are ever raised
      expect(raiseOpenFileLimit(join(dir, 'limits'))).toEqual({ before: { soft: 1024, hard: Infinity }, after: { soft: 1024, hard: Infinity }, raised: false });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reads this process's limits, never lowers them, and counts its descriptors, which grow with an open file", () => {
    const own = readOpenFileLimits()!;
    expect(own.soft).toBeGreaterThan(0);
    expect(own.hard).toBeGreaterThanOrEqual(own.soft);
    const r = raiseOpenFileLimit();
    expect(r.after!.soft).toBeGreaterThanOrEqual(own.soft);
    expect(r.raised).toBe(r.after!.soft > own.soft);
    const dir = mkdtempSync(join(tmpdir(), 'hearth-fds-'));
    const before = countOpenFiles()!;
    const fd = openSync(join(dir, 'f'), 'w');
    try {
      expect(countOpenFiles()).toBe(before + 1);
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
    expect(countOpenFiles(join(dir, 'none'))).toBeNull();
  });
});
