// Writes dist/build-info.json, {"commit": "<40 hex>" | null}: the git commit the build was made from, for
// `<base>/bridge/info` (hub/build-commit.ts reads it). HEARTH_COMMIT, when set, wins (an image built without
// .git passes it as a build argument); outside a git checkout the commit is null, never made up.
//   node hub/build-info.mjs [out-file]     default dist/build-info.json
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const COMMIT = /^[0-9a-f]{7,64}$/;

function gitCommit() {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

const given = process.env.HEARTH_COMMIT?.trim().toLowerCase();
const found = given || gitCommit();
const commit = found && COMMIT.test(found) ? found : null;
const out = path.resolve(process.argv[2] ?? path.join(repo, 'dist', 'build-info.json'));
mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify({ commit })}\n`);
