// The compaction connection after a read-only fault [issue "Faults" 2]: SQLite opens a file it may not write
// read-only, and such a connection stays read-only once the file is writable again. The hub's connection is
// reopened by ingest; this checks that compaction reopens its own, so compaction and with it the WAL bound
// resume by themselves. chattr +i stands in for a permission change (the tests run as root, which chmod does
// not stop).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { eventually } from '../../../test/support/eventually.js';
import { HubStore } from '../hub-store.js';
import { StoreFixture, batchOf, float, newDevice } from '../testing/store-fixture.js';
import { COMPACTION_DEFAULTS, CompactionLoop } from './loop.js';
import { CompactionStore } from './store.js';

const fx = new StoreFixture();
const undo: Array<() => void> = [];
afterAll(() => {
  for (const u of undo.splice(0)) u();
  fx.cleanup();
});

function chattrWorks(path: string): boolean {
  try {
    execFileSync('chattr', ['+i', path], { stdio: 'pipe' });
    execFileSync('chattr', ['-i', path], { stdio: 'pipe' });
    return true;
  } catch (err) {
    if (process.env.CI === 'true') throw new Error(`chattr is required under CI: ${(err as Error).message}`);
    console.warn(`skipping: chattr is not available here (${(err as Error).message})`);
    return false;
  }
}

describe('CompactionLoop after a read-only fault', () => {
  it('reopens its connection once the file is writable again and compacts what waited', async () => {
    const path = join(fx.dir(), 'hub.db');
    const hub = fx.track(new HubStore({ path }));
    hub.open();
    hub.addDevice(newDevice('d1'));
    const series = hub.seriesId('d1', 'temperature', 'float');
    hub.commit(batchOf(Array.from({ length: 50 }, (_, i) => ({ series, ts: 1_700_000_000_000 + i, value: float(i) }))));
    if (!chattrWorks(path)) return;

    execFileSync('chattr', ['+i', path]);
    undo.push(() => execFileSync('chattr', ['-i', path]));
    // Opened while the file is immutable: SQLite falls back to a read-only connection.
    const store = new CompactionStore({ path });
    store.open();
    const errors: Array<string | undefined> = [];
    let moved = 0;
    const loop = new CompactionLoop(
      store,
      { ...COMPACTION_DEFAULTS, minRows: 1, maxAgeMs: 0, checkEveryMs: 5, errorRetryMs: 20 },
      { pass: (r) => (moved += r.rows), retention: () => {}, error: (e) => errors.push((e as { code?: string }).code) },
      { now: Date.now, setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) },
    );
    loop.start();
    undo.unshift(() => (loop.stop(), store.close()));
    await eventually(() => expect(errors.length).toBeGreaterThanOrEqual(3), 5000);
    expect(errors[0]).toMatch(/^SQLITE_(READONLY|IOERR|CANTOPEN)/);
    expect(moved).toBe(0);

    execFileSync('chattr', ['-i', path]);
    await eventually(() => expect(moved).toBe(50), 5000);
    expect(store.backlog()).toBe(0);
    expect(hub.latest('d1')).toEqual([{ metric: 'temperature', ts: 1_700_000_000_049, value: float(49) }]);
  }, 20_000);
});
