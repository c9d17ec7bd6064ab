import pg from 'pg';

// bigint (20), numeric (1700: sum() of bigint) as JS numbers: every such value here is below 2^53 (the CHECKs).
const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 || oid === 1700 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/** A transaction whose client went silent this long is ended by the server (see newPool()). */
export const IDLE_IN_TRANSACTION_MS = 5_000;

/** How long a pool waits for a connection (the first one, at PgStore.open()). */
const CONNECT_TIMEOUT_MS = 10_000;

/** host:port/database of a URL, for messages: never its user or password. */
export function pgAddress(url: string): string {
  const u = new URL(url);
  const socket = u.searchParams.get('host');
  return `${u.hostname || socket || 'localhost'}:${u.port || 5432}${u.pathname}${socket && u.hostname ? ` (socket ${socket})` : ''}`;
}

/** A node-postgres pool of at most `max` connections to `url`, as every pool of PgStore is set up. */
export function newPool(url: string, max: number): pg.Pool {
  // A connect timeout: an address that drops packets would otherwise hang the start for ever.
  const pool = new pg.Pool({
    ...{ connectionString: url, max, types: TYPES, connectionTimeoutMillis: CONNECT_TIMEOUT_MS },
    // A hub cut off in the middle of a commit holds row locks (device_owner FOR SHARE) that another hub's
    // claim waits for: the server ends such a transaction after this long, and the claim goes through.
    idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_MS,
    keepAlive: true,
  });
  pool.on('error', () => undefined); // an idle client's lost connection: the next query reports it
  // A checked-out client's lost connection (the server ended an idle transaction, a partition healed into
  // a reset) is an 'error' event too, which would end the process unheard: its query rejects with it.
  pool.on('connect', (client) => void client.on('error', () => undefined));
  return pool;
}
