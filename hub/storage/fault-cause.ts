/** Why a storage write failed, from SQLite's error code: the `cause` label of the fault metrics and answers. */
export type StorageFaultCause = 'busy' | 'full' | 'readonly' | 'cantopen' | 'ioerr' | 'closed' | 'other';

/** The cause of a storage error (SqliteError codes such as SQLITE_IOERR_WRITE keep their family). */
export function faultCause(err: unknown): StorageFaultCause {
  const code = String((err as { code?: unknown } | undefined)?.code ?? '');
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return 'busy';
  if (code === 'SQLITE_FULL') return 'full';
  if (code.startsWith('SQLITE_READONLY')) return 'readonly';
  if (code.startsWith('SQLITE_CANTOPEN')) return 'cantopen';
  if (code.startsWith('SQLITE_IOERR')) return 'ioerr';
  if (code === 'HUB_ERR_STORE_CLOSED') return 'closed';
  return 'other';
}

/** Whether `err` is a storage fault (the disk, the file or a lock), not a refusal of the data itself. */
export function isStorageFault(err: unknown): boolean {
  return faultCause(err) !== 'other';
}

/**
 * Causes that may leave a connection broken after their cause is gone (opened read-only, a dead file handle,
 * a journal that could not grow): reopen it before retrying.
 */
export const REOPEN_CAUSES: ReadonlySet<StorageFaultCause> = new Set(['readonly', 'cantopen', 'ioerr', 'closed', 'full']);
