// Shared by the storage tests (not by production code): temp databases, devices, batches, seeded data.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Value } from '../../protocol/types.js';
import { HubStore } from './hub-store.js';
import type { CommitBatch, HubStoreOptions, NewDevice, ReadingRow } from './types.js';

/** Temp directories and open stores of one test file; cleanup() closes and deletes all of them. */
export class StoreFixture {
  readonly #dirs: string[] = [];
  readonly #stores: HubStore[] = [];

  /** A new empty directory under the OS temp dir. */
  dir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-storage-'));
    this.#dirs.push(dir);
    return dir;
  }

  /** An opened store on `path` (a fresh file by default). */
  open(opts: Partial<HubStoreOptions> = {}): HubStore {
    const store = new HubStore({ path: join(this.dir(), 'hub.db'), ...opts });
    store.open();
    this.#stores.push(store);
    return store;
  }

  /** Registers a store opened elsewhere for cleanup. */
  track(store: HubStore): HubStore {
    this.#stores.push(store);
    return store;
  }

  cleanup(): void {
    for (const s of this.#stores) s.close();
    for (const d of this.#dirs) rmSync(d, { recursive: true, force: true });
  }
}

export function newDevice(id: string, createdAt = 1_700_000_000_000): NewDevice {
  return { id, name: `Device ${id}`, type: 'sensor', tokenSalt: 'salt', tokenHash: 'hash', createdAt };
}

/** A batch of readings; seqs and lastSeen as given (empty by default). */
export function batchOf(readings: ReadingRow[], seqs: Record<string, number> = {}, lastSeen: Record<string, number> = {}): CommitBatch {
  return { readings, events: [], seqs: new Map(Object.entries(seqs)), lastSeen: new Map(Object.entries(lastSeen)) };
}

export const float = (value: number): Value => ({ type: 'float', value });
export const int = (value: number): Value => ({ type: 'int', value });

/** Deterministic PRNG (mulberry32): tests draw random data but fail the same way every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Per-series readings as [ts, value] sorted by (ts, value): the order-free form of "stored exactly once". */
export type ReadingsBySeries = Record<number, Array<[number, number | string]>>;
/** Rollup rows per table as `${series}/${bucket}` -> [min, max, sum, count]. */
export type RollupRows = Record<string, [number, number, number, number]>;

/** Every reading a test committed, to check compaction against by brute force. */
export class ReadingLedger {
  readonly #rows: ReadingRow[] = [];

  add(readings: readonly ReadingRow[]): void {
    this.#rows.push(...readings);
  }

  get size(): number {
    return this.#rows.length;
  }

  /** The committed readings of each series. */
  readings(): ReadingsBySeries {
    const out: ReadingsBySeries = {};
    for (const r of this.#rows) (out[r.series] ??= []).push([r.ts, r.value.type === 'bool' ? (r.value.value ? 1 : 0) : r.value.value]);
    for (const list of Object.values(out)) list.sort(comparePair);
    return out;
  }

  /** Rollups recomputed from scratch over numeric readings: what the rollup_<step> table must hold. */
  rollups(bucketMs: number): RollupRows {
    const out: RollupRows = {};
    for (const r of this.#rows) {
      if (r.value.type === 'string' || r.value.type === 'enum') continue;
      const x = r.value.type === 'bool' ? (r.value.value ? 1 : 0) : r.value.value;
      const key = `${r.series}/${r.ts - (r.ts % bucketMs)}`;
      const a = out[key];
      out[key] = a ? [Math.min(a[0], x), Math.max(a[1], x), a[2] + x, a[3] + 1] : [x, x, x, 1];
    }
    return out;
  }

  /** Newest ts per series (tests keep timestamps unique per series, so the value is unambiguous). */
  latestTs(): Record<number, number> {
    const out: Record<number, number> = {};
    for (const r of this.#rows) out[r.series] = Math.max(out[r.series] ?? -1, r.ts);
    return out;
  }
}

/** Orders [ts, value] pairs by ts, then value (a total order, as history sorts points). */
export function comparePair(a: [number, number | string], b: [number, number | string]): number {
  return a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);
}
