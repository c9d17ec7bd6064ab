import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCommit } from './build-commit.js';

const SCRIPT = fileURLToPath(new URL('./build-info.mjs', import.meta.url));
const REPO = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'hearth-build-info-'));

/** Runs the build's step (hub/build-info.mjs) into `out`, with `env` added; returns what it wrote. */
function writeBuildInfo(out: string, env: Record<string, string> = {}): { commit: string | null } {
  const base = { ...process.env };
  delete base['HEARTH_COMMIT'];
  execFileSync(process.execPath, [SCRIPT, out], { env: { ...base, ...env } });
  return JSON.parse(readFileSync(out, 'utf8')) as { commit: string | null };
}

function gitHead(): string | null {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

describe('the build commit (bridge/info.commit)', () => {
  it("the build records the checkout's git commit, and the hub reads it back", () => {
    const out = join(dir, 'from-git.json');
    const written = writeBuildInfo(out);
    expect(written.commit).toBe(gitHead());
    expect(buildCommit({}, out)).toBe(written.commit);
  });

  it('HEARTH_COMMIT wins, at build time and at run time; a malformed one is unknown, not made up', () => {
    const out = join(dir, 'from-env.json');
    expect(writeBuildInfo(out, { HEARTH_COMMIT: 'ABCDEF1234567' }).commit).toBe('abcdef1234567');
    expect(buildCommit({}, out)).toBe('abcdef1234567');
    expect(buildCommit({ HEARTH_COMMIT: '0123456789abcdef0123456789abcdef01234567' }, out)).toBe('0123456789abcdef0123456789abcdef01234567');
    expect(buildCommit({ HEARTH_COMMIT: 'not a commit' }, out)).toBeNull();
    expect(writeBuildInfo(join(dir, 'bad-env.json'), { HEARTH_COMMIT: 'x;rm' }).commit).toBeNull();
  });

  it('null without build info, or with a damaged file', () => {
    expect(buildCommit({}, join(dir, 'missing.json'))).toBeNull();
    const damaged = join(dir, 'damaged.json');
    writeFileSync(damaged, '{"commit": 42');
    expect(buildCommit({}, damaged)).toBeNull();
    writeFileSync(damaged, '{"commit": 42}');
    expect(buildCommit({}, damaged)).toBeNull();
  });
});
