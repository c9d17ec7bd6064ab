// The dashboard reads the hub through two shared contracts only, the HTTP API's (hub/http/api-types.ts) and
// the MQTT topic tree (hub/mqtt/topics.ts), plus the protocol's value forms: never storage rows or user
// records, whose shape may change without the API changing.
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Every .ts/.mjs file under `dir`, as absolute paths. */
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.(ts|mjs)$/.test(entry) ? [path] : [];
  });
}

/** The repository paths a file imports by relative specifier (import ... from, export ... from, import()). */
function relativeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]!);
  return specs.map((s) => relative(root, resolve(dirname(file), s)).replace(/\.js$/, '.ts'));
}

describe('dashboard import boundaries', () => {
  const files = sources(join(root, 'dashboard'));
  const outside = files.flatMap((file) =>
    relativeImports(file)
      .filter((target) => !target.startsWith('dashboard/'))
      .map((target) => ({ file: relative(root, file), target })),
  );

  it('finds the dashboard sources and what they import from outside dashboard/', () => {
    expect(files.length).toBeGreaterThan(20);
    expect(outside.length).toBeGreaterThan(0);
  });

  it('no dashboard file imports from hub/storage/, hub/users/ or hub/auth/', () => {
    expect(outside.filter(({ target }) => /^hub\/(storage|users|auth)\//.test(target))).toEqual([]);
  });

  it('outside dashboard/ it imports only the API contract, the MQTT topic map and protocol/', () => {
    const allowed = (target: string) => target === 'hub/http/api-types.ts' || target === 'hub/mqtt/topics.ts' || /^protocol\/[a-z-]+\.ts$/.test(target);
    expect(outside.filter(({ target }) => !allowed(target))).toEqual([]);
  });

  it('the API contract imports nothing but protocol/', () => {
    const contract = join(root, 'hub/http/api-types.ts');
    const imports = relativeImports(contract);
    expect(imports.length).toBeGreaterThan(0);
    expect(imports.filter((target) => !target.startsWith('protocol/'))).toEqual([]);
  });
});
