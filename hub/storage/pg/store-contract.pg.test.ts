// The shared HubStoreContract suite against PgStore on a throwaway PostgreSQL cluster (one per file, one
// database per test), plus what only PostgreSQL has: day partitions, fencing of several hubs, and the same
// history answers as the SQLite store for the same input.
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { HubStore } from '../hub-store.js';
import type { HubStoreContract } from '../store-contract.js';
import { describePg, type PgCluster } from '../testing/pg-cluster.js';
import { contractInput } from '../testing/store-contract-input.js';
import { storeContractSuite, writeInput, type StoreHarness } from '../testing/store-contract-suite.js';
import { batchOf, float, newDevice, StoreFixture } from '../testing/store-fixture.js';
import { FencedError } from './fenced-error.js';
import { PgStore, type PgStoreOptions } from './pg-store.js';

const T0 = 1_700_000_000_000;

function pgHarness(cluster: () => PgCluster): StoreHarness {
  const urls = new Map<HubStoreContract, string>();
  const stores: PgStore[] = [];
  const make = (opts: PgStoreOptions) => {
    const store = new PgStore(opts);
    stores.push(store);
    urls.set(store, opts.url);
    return store;
  };
  return {
    async create(opts) {
      return make({ url: await cluster().createDatabase('contract'), ...opts });
    },
    async sameDatabase(store) {
      return make({ url: urls.get(store)! });
    },
    async setSchemaVersion(store, version) {
      const client = new pg.Client({ connectionString: urls.get(store)! });
      await client.connect();
      await client.query('UPDATE hearth_schema SET version = $1', [version]);
      await client.end();
    },
    async settle(store) {
      await (store as PgStore).rollupStep();
    },
    async cleanup() {
      for (const s of stores) await s.close();
    },
  };
}

describePg('PgStore', (cluster) => {
  let harness: StoreHarness | undefined;
  storeContractSuite('PostgreSQL (PgStore)', () => (harness ??= pgHarness(cluster)));

  const fresh = async (opts: Partial<PgStoreOptions> = {}) => {
    const store = new PgStore({ url: await cluster().createDatabase('pg'), ...opts });
    await store.open();
    return store;
  };

  describe('layout', () => {
    it('keeps readings in one partition per day, made ahead and on demand, and retention drops them whole', async () => {
      const now = T0 + 40 * 86_400_000;
      const store = await fresh({ now: () => now, retention: { rawMs: 30 * 86_400_000 } });
      try {
        await store.addDevice(newDevice('p'));
        const s = await store.seriesId('p', 't', 'float');
        await store.commit(batchOf([T0, T0 + 86_400_000, now].map((ts) => ({ series: s, ts, value: float(1) }))));
        const parts = async () =>
          (await store.pool.query<{ n: string }>("SELECT c.relname AS n FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'readings'::regclass ORDER BY 1")).rows.map((r) => r.n);
        const day = (ts: number) => `readings_d${Math.floor(ts / 86_400_000)}`;
        expect(await parts()).toEqual([day(T0), day(T0 + 86_400_000), day(now), day(now + 86_400_000)].sort());
        while ((await store.retentionStep(100)) > 0);
        expect(await parts()).toEqual([day(now), day(now + 86_400_000)].sort());
        expect((await store.stats()).storedReadings).toBe(1);
      } finally {
        await store.close();
      }
    });
  });

  describe('fencing', () => {
    it('refuses the commit of a hub that lost the device, storing nothing of it', async () => {
      const a = await fresh();
      const b = new PgStore({ url: new URL(a.pool.options.connectionString!).toString() });
      await b.open();
      try {
        await a.addDevice(newDevice('dev'));
        await a.addDevice(newDevice('other'));
        const s = await a.seriesId('dev', 't', 'float');
        const o = await a.seriesId('other', 't', 'float');
        const epochA = await a.claimDevice('dev', 'hub-a');
        const otherA = await a.claimDevice('other', 'hub-a');
        await a.commit(batchOf([{ series: s, ts: T0, value: float(1) }], { dev: 1 }), new Map([['dev', epochA]]));
        const epochB = await b.claimDevice('dev', 'hub-b');
        expect(epochB).toBe(epochA + 1);
        expect(await b.owner('dev')).toEqual({ hubId: 'hub-b', epoch: epochB });
        const stale = a.commit(
          batchOf([{ series: s, ts: T0 + 1, value: float(2) }, { series: o, ts: T0 + 1, value: float(3) }], { dev: 2, other: 5 }),
          new Map([['dev', epochA], ['other', otherA]]),
        );
        await expect(stale).rejects.toBeInstanceOf(FencedError);
        await expect(stale).rejects.toMatchObject({ code: 'HUB_ERR_FENCED', devices: ['dev'] });
        expect(await b.committedSeqs()).toEqual(new Map([['dev', 1], ['other', 0]]));
        const q = { metric: 't', from: 0, to: T0 * 2, step: 'raw' as const, limit: 10 };
        expect(await b.history({ ...q, deviceId: 'dev' })).toEqual([{ ts: T0, value: 1 }]);
        expect(await b.history({ ...q, deviceId: 'other' })).toEqual([]);
        await b.commit(batchOf([{ series: s, ts: T0 + 2, value: float(4) }], { dev: 3 }), new Map([['dev', epochB]]));
        expect(await b.committedSeq('dev')).toBe(3);
        // A device no hub has claimed is fenced too: a fence names an epoch that must exist.
        await expect(a.commit(batchOf([], { other: 9 }), new Map([['dev', 99]]))).rejects.toMatchObject({ devices: ['dev'] });
      } finally {
        await a.close();
        await b.close();
      }
    });

    it('stores a batch committed again (its first answer lost with the connection) once', async () => {
      const store = await fresh();
      try {
        await store.addDevice(newDevice('twice'));
        const s = await store.seriesId('twice', 't', 'float');
        const fence = new Map([['twice', await store.claimDevice('twice', 'hub-a')]]);
        const batch = () => batchOf([{ series: s, ts: T0, value: float(1) }, { series: s, ts: T0 + 1, value: float(2) }], { twice: 2 });
        await store.commit(batch(), fence);
        await store.commit(batch(), fence); // the retry of a commit whose answer never came
        const q = { deviceId: 'twice', metric: 't', from: 0, to: T0 * 2, step: 'raw' as const, limit: 10 };
        expect(await store.history(q)).toEqual([{ ts: T0, value: 1 }, { ts: T0 + 1, value: 2 }]);
        // The next batch of the device is stored as usual.
        await store.commit(batchOf([{ series: s, ts: T0 + 2, value: float(3) }], { twice: 3 }), fence);
        expect((await store.history(q)).map((p) => p.value)).toEqual([1, 2, 3]);
        expect(await store.committedSeq('twice')).toBe(3);
      } finally {
        await store.close();
      }
    });

    it('serialises a claim with concurrent commits on two pool connections: each commit is whole or refused', async () => {
      const store = await fresh({ poolSize: 4 });
      try {
        await store.addDevice(newDevice('x'));
        const s = await store.seriesId('x', 't', 'float');
        const epoch = await store.claimDevice('x', 'hub-a');
        const fence = new Map([['x', epoch]]);
        // Two readings per commit, so "whole" means both. No seqs: a hub has one commit of a device in flight at a
        // time, in seq order, and a seq overtaken by a later one on another connection would read as "stored".
        const commits = Array.from({ length: 20 }, (_, i) =>
          store.commit(batchOf([{ series: s, ts: T0 + 2 * i, value: float(i) }, { series: s, ts: T0 + 2 * i + 1, value: float(i) }]), fence).then(() => i, () => -1),
        );
        const claim = store.claimDevice('x', 'hub-b');
        const outcomes = await Promise.all(commits);
        await claim;
        const stored = (await store.history({ deviceId: 'x', metric: 't', from: 0, to: T0 * 2, step: 'raw', limit: 100 })).map((p) => p.ts - T0);
        const accepted = outcomes.filter((i) => i >= 0);
        expect(stored.sort((x, y) => x - y)).toEqual(accepted.flatMap((i) => [2 * i, 2 * i + 1]).sort((x, y) => x - y));
        expect(await store.commit(batchOf([{ series: s, ts: T0 + 99, value: float(0) }]), fence).catch((e: Error) => e)).toBeInstanceOf(FencedError);
      } finally {
        await store.close();
      }
    });
  });

  describe('same answers as SQLite', () => {
    it('gives the history and latest values HubStore gives for the same input', async () => {
      const fx = new StoreFixture();
      const lite = fx.track(new HubStore({ path: join(fx.dir(), 'hub.db') }));
      lite.open();
      const store = await fresh();
      try {
        const input = contractInput(T0);
        await writeInput(lite, input);
        await writeInput(store, input);
        for (const s of input.series) {
          for (const step of ['raw', 'minute', 'hour'] as const) {
            const q = { deviceId: s.deviceId, metric: s.metric, from: T0 + 600_000, to: T0 + 3 * 3_600_000, step, limit: 1_000 };
            expect({ step, got: await store.history(q) }).toEqual({ step, got: lite.history(q) });
          }
        }
        for (const d of input.devices) expect(await store.latest(d)).toEqual(lite.latest(d));
        expect((await store.stats()).storedReadings).toBe(lite.stats().storedReadings);
      } finally {
        await store.close();
        fx.cleanup();
      }
    });
  });
});
