// The statements that mark many devices disconnected lock device_owner rows in device_id order, as every
// commit's fence does: a hub's storm of disconnects and its commit then queue behind each other instead of
// PostgreSQL ending one of them with "deadlock detected" (bench devices100k).
import { expect, it } from '@jest/globals';
import pg from 'pg';
import { describePg } from '../testing/pg-cluster.js';
import { newDevice } from '../testing/store-fixture.js';
import { PgStore } from './pg-store.js';

const T0 = 1_700_000_000_000;
const HUB = 'hub-a';

describePg('device_owner lock order', (cluster) => {
  async function setup(name: string) {
    const url = await cluster().createDatabase(name);
    const store = new PgStore({ url });
    await store.open();
    const epochs = new Map<string, number>();
    for (const id of ['d1', 'd2', 'd3']) {
      await store.addDevice(newDevice(id, T0));
      epochs.set(id, await store.claimDevice(id, HUB));
    }
    // A commit's fence on another connection: it has locked d1 (FOR SHARE, in device_id order) and is about
    // to lock d3.
    const commit = new pg.Client({ connectionString: url });
    await commit.connect();
    await commit.query("SET deadlock_timeout = '100ms'");
    await commit.query('BEGIN');
    await commit.query("SELECT 1 FROM device_owner WHERE device_id = 'd1' FOR SHARE");
    return { store, epochs, commit };
  }

  /** Until a statement containing `query` waits for a lock (its backend shows wait_event_type Lock); 10 s at most. */
  async function waitingForLock(store: PgStore, query: string): Promise<void> {
    for (const deadline = Date.now() + 10_000; ; ) {
      if (Date.now() > deadline) throw new Error(`no statement with ${JSON.stringify(query)} waited for a lock within 10 s`);
      const { rows } = await store.pool.query("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1", [`%${query}%`]);
      if (rows.length > 0) return;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  for (const [what, run, marker] of [
    ['disconnected(), devices listed from the last', (s: PgStore, e: Map<string, number>) => s.cluster.disconnected(HUB, new Map([...e].reverse())), 'unnest'],
    ['releaseDead()', (s: PgStore) => s.cluster.releaseDead(HUB), 'RETURNING o.device_id'],
    ['stopped()', (s: PgStore) => s.cluster.stopped(HUB), 'UPDATE device_owner o SET connected = false FROM'],
  ] as const) {
    it(`${what} waits behind a commit's fence instead of deadlocking with it`, async () => {
      const { store, epochs, commit } = await setup(what.split('(')[0]!.toLowerCase());
      try {
        const marking = run(store, epochs);
        await waitingForLock(store, marker);
        // The commit goes on to its next row: free, since the marking waits at d1 holding nothing.
        await commit.query("SELECT 1 FROM device_owner WHERE device_id = 'd3' FOR SHARE");
        await commit.query('COMMIT');
        await marking;
        const { rows } = await store.pool.query<{ device_id: string; connected: boolean }>('SELECT device_id, connected FROM device_owner ORDER BY device_id');
        expect(rows).toEqual(['d1', 'd2', 'd3'].map((device_id) => ({ device_id, connected: false })));
      } finally {
        await commit.end();
        await store.close();
      }
    });
  }
});
