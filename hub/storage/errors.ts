/** Stable codes of the errors HubStore throws itself (SQLite's own errors pass through as SqliteError). */
export const STORE_ERROR_CODES = {
  /** The database was written by a newer Hearth (its user_version is above the newest migration). */
  HUB_ERR_DB_TOO_NEW: 'database schema is newer than this hub',
  /** addDevice() with an id that exists, revoked or not. */
  HUB_ERR_DEVICE_EXISTS: 'device id already exists',
  /** FirmwareTable.addImage() with a model and version (or bytes) stored under another name. */
  HUB_ERR_FIRMWARE_EXISTS: 'firmware image already stored',
  /** PgStore.open() cannot connect to the server of its URL (down, refused, wrong credentials, no such database). */
  HUB_ERR_DB_UNREACHABLE: 'PostgreSQL server cannot be connected to',
  /** A method that needs the database was called before open() or after close(). */
  HUB_ERR_STORE_CLOSED: 'store is not open',
  /** A stored chunk does not decode: the file was damaged or written by an incompatible codec. */
  HUB_ERR_CHUNK_CORRUPT: 'stored chunk does not decode',
  /** The compaction worker thread ended without being stopped; it is restarted, its rows wait in the log. */
  HUB_ERR_COMPACTION_WORKER_EXIT: 'compaction worker exited',
  /** The ingest journal cannot be written: the disk (or quota) is full. A fault of cause `full`. */
  HUB_ERR_JOURNAL_FULL: 'ingest journal cannot be written: no space',
  /** The ingest journal cannot be written: a read-only file system or no permission. A fault of cause `readonly`. */
  HUB_ERR_JOURNAL_READONLY: 'ingest journal cannot be written: read-only',
  /** Any other error reading or writing the ingest journal. A fault of cause `ioerr`. */
  HUB_ERR_JOURNAL_IO: 'ingest journal I/O error',
  /** A file named like an ingest journal segment is not one, or one of its records decodes to nonsense. */
  HUB_ERR_JOURNAL_CORRUPT: 'ingest journal segment does not decode',
} as const;
export type StoreErrorCode = keyof typeof STORE_ERROR_CODES;

/** An error with a stable `code`, for callers to branch on without parsing messages. */
export class StoreError extends Error {
  readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.name = 'StoreError';
    this.code = code;
  }
}
