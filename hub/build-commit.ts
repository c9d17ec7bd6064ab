import { readFileSync } from 'node:fs';

// dist/build-info.json is written by `npm run build` (hub/build-info.mjs): two levels above dist/hub/, or
// dist/ beside hub/ under jest.
const BUILD_INFO = new URL(import.meta.url.includes('/dist/') ? '../build-info.json' : '../dist/build-info.json', import.meta.url);
const COMMIT = /^[0-9a-f]{7,64}$/;

/** The git commit of a build: `HEARTH_COMMIT` when set and valid, else the build's build-info.json, else null (unknown). */
export function buildCommit(env: NodeJS.ProcessEnv = process.env, file: URL | string = BUILD_INFO): string | null {
  const given = env['HEARTH_COMMIT']?.trim().toLowerCase();
  if (given) return COMMIT.test(given) ? given : null;
  try {
    const { commit } = JSON.parse(readFileSync(file, 'utf8')) as { commit?: unknown };
    return typeof commit === 'string' && COMMIT.test(commit) ? commit : null;
  } catch {
    return null; // Not built by `npm run build` (no file) or a damaged file: unknown, not an error.
  }
}

/** This process's build commit, read once when the module loads. */
export const HUB_COMMIT: string | null = buildCommit();
