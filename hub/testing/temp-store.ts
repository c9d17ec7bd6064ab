// Test support: the real HubStore on a fresh SQLite file in a temp directory, for unit tests of the parts
// around storage (registry, commands, ingest, sessions), so they run against the real thing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HubStore } from '../storage/hub-store.js';

/** Opened stores in temp directories; cleanup() closes and deletes every one of them. */
export class TempStore {
  readonly #dirs: string[] = [];
  readonly #stores: HubStore[] = [];

  /** A new opened store on a fresh file; `now` is the store's clock (retention, command times). */
  open(now?: () => number): HubStore {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-unit-'));
    this.#dirs.push(dir);
    return this.reopen(join(dir, 'hub.db'), now);
  }

  /** Another connection to the database at `path` (as the CLI opens one beside the hub, or a restart). */
  reopen(path: string, now?: () => number): HubStore {
    const store = new HubStore({ path, ...(now ? { now } : {}) });
    store.open();
    this.#stores.push(store);
    return store;
  }

  cleanup(): void {
    for (const s of this.#stores.splice(0)) s.close();
    for (const d of this.#dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  }
}
