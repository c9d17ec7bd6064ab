// The shared HubStoreContract suite against the SQLite store (HubStore) on real files, with every commit its own
// transaction and with the ingest journal (records drained only by the reads and the close that need them).
import Database from 'better-sqlite3';
import { HubStore } from './hub-store.js';
import type { JournalSettings } from './journal/ingest-journal.js';
import type { HubStoreContract } from './store-contract.js';
import { storeContractSuite, type StoreHarness } from './testing/store-contract-suite.js';
import { StoreFixture } from './testing/store-fixture.js';
import { join } from 'node:path';

const fx = new StoreFixture();
const paths = new Map<HubStoreContract, string>();

const harness = (journal: JournalSettings | undefined): StoreHarness => ({
  async create(opts) {
    const path = join(fx.dir(), 'hub.db');
    const store = fx.track(new HubStore({ path, ...opts, ...(journal && { journal }) }));
    paths.set(store, path);
    return store;
  },
  async sameDatabase(store) {
    const path = paths.get(store)!;
    const again = fx.track(new HubStore({ path, ...(journal && { journal }) }));
    paths.set(again, path);
    return again;
  },
  async setSchemaVersion(store, version) {
    const db = new Database(paths.get(store)!);
    db.pragma(`user_version = ${version}`);
    db.close();
  },
  async settle(store) {
    const s = store as HubStore;
    while (s.compactStep() > 0);
  },
  async cleanup() {
    fx.cleanup();
  },
});

storeContractSuite('SQLite (HubStore)', () => harness(undefined));
storeContractSuite('SQLite (HubStore) with the ingest journal', () => harness({ drainMs: 3_600_000, drainReadings: 1_000_000 }));
