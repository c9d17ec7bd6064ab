// A throwaway PostgreSQL cluster per test file (test support, never compiled into dist/): started in beforeAll,
// stopped and removed in afterAll; each test makes its own database on it.
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import type pg from 'pg';
import { PG_MIGRATIONS } from '../pg/pg-migrations.js';
import { PgCluster, pgUnavailable } from '../pg/throwaway-cluster.js';

export { PgCluster } from '../pg/throwaway-cluster.js';

/**
 * `describe` with one cluster shared by its tests (`cluster()` inside a test or hook). Without PostgreSQL
 * the suite is skipped with the reason in its name, except under CI=true, where it fails saying why.
 */
export function describePg(name: string, fn: (cluster: () => PgCluster) => void): void {
  const why = pgUnavailable();
  if (why && process.env.CI === 'true') {
    describe(name, () => {
      it('needs PostgreSQL', () => {
        throw new Error(`${why}; CI=true requires it`);
      });
    });
    return;
  }
  if (why) {
    describe.skip(`${name} (skipped: ${why})`, () => it('needs PostgreSQL', () => undefined));
    return;
  }
  describe(name, () => {
    let started: PgCluster | undefined;
    beforeAll(async () => {
      started = await PgCluster.start();
    }, 120_000);
    afterAll(() => started?.stop());
    fn(() => {
      if (!started) throw new Error('the PostgreSQL cluster did not start (see beforeAll)');
      return started;
    });
  });
}

/** Leaves the database of `client` as a hub of schema `version` would: migrations up to it, and hearth_schema saying so. */
export async function migrateTo(client: pg.Client, version: number): Promise<void> {
  await client.query('CREATE TABLE hearth_schema (id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL)');
  for (const m of PG_MIGRATIONS.filter((x) => x.version <= version)) await client.query(m.sql);
  await client.query('INSERT INTO hearth_schema (id, version) VALUES (1, $1)', [version]);
}
