// One query on a connection of its own, for tests that look into a hub's PostgreSQL database from outside.
import pg from 'pg';

/** Runs `text` with `params` on a fresh connection to `url` and answers its rows. */
export async function sql<R extends pg.QueryResultRow>(url: string, text: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text, params)).rows;
  } finally {
    await client.end();
  }
}
