// Test helpers (not production code): what compaction stored, read through a raw read-only connection, and
// worker entries bundled from source.
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { decodeChunk } from './chunk-codec.js';
import { toNative } from './native-value.js';
import { comparePair, type ReadingsBySeries, type RollupRows } from './test-fixtures.js';

/** What the database holds: chunk readings, log rows, rollups and latest timestamps, in ledger form. */
export interface StoredState {
  chunks: ReadingsBySeries;
  log: ReadingsBySeries;
  /** Chunks and log together: equal to the ledger's readings exactly when every reading is stored once. */
  all: ReadingsBySeries;
  minute: RollupRows;
  hour: RollupRows;
  latestTs: Record<number, number>;
}

/** Reads the whole state in one read transaction. */
export function readStoredState(path: string): StoredState {
  const db = new Database(path, { readonly: true });
  try {
    return db.transaction(() => {
      const chunks: ReadingsBySeries = {};
      for (const c of db.prepare('SELECT series, data FROM chunks').all() as Array<{ series: number; data: Uint8Array }>) {
        const d = decodeChunk(c.data);
        const list = (chunks[c.series] ??= []);
        d.ts.forEach((ts, i) => list.push([ts, toNative(d.values[i]!)]));
      }
      const log: ReadingsBySeries = {};
      for (const r of db.prepare('SELECT series, ts, value FROM log').all() as Array<{ series: number; ts: number; value: number | string }>) {
        (log[r.series] ??= []).push([r.ts, r.value]);
      }
      const all: ReadingsBySeries = {};
      for (const src of [chunks, log]) for (const [s, list] of Object.entries(src)) (all[Number(s)] ??= []).push(...list);
      for (const src of [chunks, log, all]) for (const list of Object.values(src)) list.sort(comparePair);
      const rollups = (table: string): RollupRows => {
        const out: RollupRows = {};
        for (const r of db.prepare(`SELECT series, bucket, min, max, sum, count FROM ${table}`).raw().all() as number[][]) {
          out[`${r[0]}/${r[1]}`] = [r[2]!, r[3]!, r[4]!, r[5]!];
        }
        return out;
      };
      const latestTs: Record<number, number> = {};
      for (const r of db.prepare('SELECT series, ts FROM series_latest').raw().all() as number[][]) latestTs[r[0]!] = r[1]!;
      return { chunks, log, all, minute: rollups('rollup_minute'), hour: rollups('rollup_hour'), latestTs };
    }).deferred();
  } finally {
    db.close();
  }
}

/** Rollup rows with sums rounded to 6 decimals: the order of additions differs between a pass and the brute force. */
export function roundedRollups(rows: RollupRows): RollupRows {
  const out: RollupRows = {};
  for (const [k, [min, max, sum, count]] of Object.entries(rows)) out[k] = [min, max, Math.round(sum * 1e6) / 1e6, count];
  return out;
}

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
