// The hub's beat has a connection of its own: a main pool held by slow queries (a hub reading 100,000 devices)
// must not make the beat wait, or the hub cuts itself off from a database that answers.
import { expect, it } from '@jest/globals';
import pg from 'pg';
import { describePg } from '../testing/pg-cluster.js';
import { PgStore } from './pg-store.js';

const LOCK = 4242;

describePg('PgCluster beat', (cluster) => {
  it('answers while every connection of the main pool is busy', async () => {
    const url = await cluster().createDatabase('beat');
    const store = new PgStore({ url, poolSize: 2 });
    await store.open();
    // The test holds an advisory lock on a client of its own; the main pool's queries wait for it.
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [LOCK]);
      const order: string[] = [];
      // Both main-pool connections wait for the lock, at most 3 s: a beat queued behind them then comes
      // second, and the test fails instead of hanging.
      const busy = [0, 1].map(() =>
        store.pool
          .query(`DO $$ BEGIN SET LOCAL lock_timeout = '3s'; PERFORM pg_advisory_xact_lock_shared(${LOCK}); END $$`)
          .catch((err: Error) => err.message)
          .then(() => order.push('main')),
      );
      // A third query on the main pool queues behind them, as the hub's own reads would.
      const queued = store.pool.query('SELECT 1').then(() => order.push('queued'));
      const hubs = await store.cluster.beat('beat-a', 1_000, 500);
      order.push('beat');
      await holder.query('SELECT pg_advisory_unlock($1)', [LOCK]);
      await Promise.all([...busy, queued]);
      expect(hubs.get('beat-a')).toEqual({ seenAt: 1_000, stopped: false });
      expect(order[0]).toBe('beat');
      expect(order.slice(1).sort()).toEqual(['main', 'main', 'queued']);
    } finally {
      await holder.end();
      await store.close();
    }
  });
});
