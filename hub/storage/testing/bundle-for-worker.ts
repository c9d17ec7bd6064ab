// Test support: worker entries bundled from source, so tests start real threads from the code they test.
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * Bundles a TypeScript worker entry and everything it imports into one ESM file in `outDir`, so tests can
 * start real worker threads from the sources they test (a worker cannot load .ts, and dist/ may be stale).
 * better-sqlite3 stays external, imported by absolute path so it resolves from a temp directory.
 */
export async function bundleForWorker(entry: URL, outDir: string): Promise<URL> {
  const { build } = await import('esbuild');
  const sqlite = createRequire(import.meta.url).resolve('better-sqlite3');
  const outfile = join(outDir, basename(fileURLToPath(entry)).replace(/\.ts$/, '.mjs'));
  await build({
    entryPoints: [fileURLToPath(entry)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    logLevel: 'silent',
    plugins: [{ name: 'absolute-better-sqlite3', setup: (b) => void b.onResolve({ filter: /^better-sqlite3$/ }, () => ({ path: sqlite, external: true })) }],
  });
  return pathToFileURL(outfile);
}
