import { describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

// `npm test` builds first (pretest), so dist/ is what `npm start` and the Docker image run.
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = join(ROOT, 'dist');

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

describe('dist/', () => {
  it('holds no test support: no testing/ folder, no test file, nothing importing @jest/globals', () => {
    expect(existsSync(join(DIST, 'hub', 'hub.js'))).toBe(true);
    const files = walk(DIST).filter((f) => f.endsWith('.js')).map((f) => relative(DIST, f));
    expect(files.length).toBeGreaterThan(50);
    expect(files.filter((f) => f.split('/').includes('testing') || f.split('/')[0] === 'test' || f.endsWith('.test.js'))).toEqual([]);
    expect(files.filter((f) => /from ['"]@jest\/globals['"]|require\(['"]@jest\/globals['"]\)/.test(readFileSync(join(DIST, f), 'utf8')))).toEqual([]);
  });

  it('no source compiled into dist/ imports from a testing/ folder (it would be missing there)', () => {
    const files = walk(DIST).filter((f) => f.endsWith('.js'));
    const offenders = files.filter((f) => /from ['"][^'"]*\/testing\/[^'"]*['"]/.test(readFileSync(f, 'utf8'))).map((f) => relative(DIST, f));
    expect(offenders).toEqual([]);
  });
});
