/**
 * Why a storage write failed, from SQLite's error code or, on PostgreSQL, the connection's: the `cause` label
 * of the fault metrics and answers.
 */
export type StorageFaultCause = 'busy' | 'full' | 'readonly' | 'cantopen' | 'ioerr' | 'closed' | 'unreachable' | 'other';

/** Every cause, in the order the metrics list them (hearth_storage_fault shows each: 0 but the current one's). */
export const FAULT_CAUSES = ['busy', 'full', 'readonly', 'cantopen', 'ioerr', 'closed', 'unreachable', 'other'] as const satisfies readonly StorageFaultCause[];

/**
 * SQLSTATEs that mean the PostgreSQL server is not there for this query, not that the query is wrong: class 08
 * (connection exception), the server shutting down or starting (57P01-57P03), out of connections (53300),
 * and a session ended for idling in a transaction (25P03).
 */
const PG_UNREACHABLE = /^(08...|57P0[1-3]|53300|25P03)$/;
/** node-postgres's own words for a connection that ended or never came (these errors carry no code). */
const PG_CONNECTION_LOST = /^(Connection terminated|Client has encountered a connection error|timeout exceeded when trying to connect)/;

/** The PostgreSQL server cannot be reached: a socket error on the way to it, or a SQLSTATE above. */
function unreachable(err: unknown, code: string): boolean {
  if (code === 'HUB_ERR_DB_UNREACHABLE' || PG_UNREACHABLE.test(code)) return true;
  const e = err as { syscall?: unknown; message?: unknown } | undefined;
  // Node's socket errors (ECONNREFUSED, ENOENT for a Unix socket that is gone, ECONNRESET, ETIMEDOUT...).
  if (/^E[A-Z]+$/.test(code) && (e?.syscall === 'connect' || e?.syscall === 'read' || e?.syscall === 'write')) return true;
  return typeof e?.message === 'string' && PG_CONNECTION_LOST.test(e.message);
}

/** The cause of a storage error (SqliteError codes such as SQLITE_IOERR_WRITE keep their family). */
export function faultCause(err: unknown): StorageFaultCause {
  const code = String((err as { code?: unknown } | undefined)?.code ?? '');
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return 'busy';
  if (code === 'SQLITE_FULL' || code === 'HUB_ERR_JOURNAL_FULL') return 'full';
  if (code === 'HUB_ERR_JOURNAL_READONLY') return 'readonly';
  if (code === 'HUB_ERR_JOURNAL_IO') return 'ioerr';
  if (code.startsWith('SQLITE_READONLY')) return 'readonly';
  if (code.startsWith('SQLITE_CANTOPEN')) return 'cantopen';
  if (code.startsWith('SQLITE_IOERR')) return 'ioerr';
  if (code === 'HUB_ERR_STORE_CLOSED') return 'closed';
  if (unreachable(err, code)) return 'unreachable';
  return 'other';
}

/** Whether `err` is a storage fault (the disk, the file, a lock or the database server), not a refusal of the data itself. */
export function isStorageFault(err: unknown): boolean {
  return faultCause(err) !== 'other';
}

/**
 * Causes that may leave a connection broken after their cause is gone (opened read-only, a dead file handle,
 * a journal that could not grow): reopen it before retrying.
 */
export const REOPEN_CAUSES: ReadonlySet<StorageFaultCause> = new Set(['readonly', 'cantopen', 'ioerr', 'closed', 'full']);
