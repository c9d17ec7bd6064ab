// Shared by the storage tests (test support, never compiled into dist/): temp databases, devices, batches, seeded data.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Value } from '../../../protocol/types.js';
import { HubStore } from '../hub-store.js';
import type { CommitBatch, HubStoreOptions, NewDevice, ReadingRow } from '../types.js';

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
