import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { StoreError } from './errors.js';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations/index.js';
import type { SynchronousMode } from './types.js';

export type Db = Database.Database;

/** How long a writer waits for another connection's lock before SQLITE_BUSY (tools, the CLI, compaction). */
export const BUSY_TIMEOUT_MS = 5000;
/** Default bound of the WAL file (config `db.maxWalBytes`): a checkpoint truncates it back under this. */
export const DEFAULT_MAX_WAL_BYTES = 64 * 1024 * 1024;

export interface OpenOptions {
  /** busy_timeout of this connection; the hub's own uses a few ms so that no commit blocks its event loop. */
  busyTimeoutMs?: number;
  /** journal_size_limit: the WAL is truncated back to this after a checkpoint resets it. */
  maxWalBytes?: number;
}

/**
 * Opens (creating the directory and file if needed) and migrates the database; the caller closes it.
 * Throws StoreError HUB_ERR_DB_TOO_NEW for a database written by a newer schema, leaving it untouched.
 */
export function openDatabase(path: string, synchronous: SynchronousMode = 'NORMAL', opts: OpenOptions = {}): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  try {
    // First, so that switching to WAL waits for another connection instead of failing at once.
    db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? BUSY_TIMEOUT_MS}`);
    db.pragma('journal_mode = WAL');
    // In WAL mode NORMAL syncs at checkpoints only: a committed transaction survives a crash of the
    // process (the OS has the pages), which is what "acknowledge after commit" needs. Surviving power
    // loss needs FULL (a sync per commit); the hub makes it configurable.
    db.pragma(`synchronous = ${synchronous === 'FULL' ? 'FULL' : 'NORMAL'}`);
    db.pragma('foreign_keys = ON');
    db.pragma(`journal_size_limit = ${opts.maxWalBytes ?? DEFAULT_MAX_WAL_BYTES}`);
    migrate(db);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** Brings the schema to SCHEMA_VERSION, one transaction per migration; refuses a newer database. */
export function migrate(db: Db): void {
  const current = userVersion(db);
  if (current > SCHEMA_VERSION) {
    throw new StoreError(
      'HUB_ERR_DB_TOO_NEW',
      `database ${db.name} has schema version ${current}, newer than ${SCHEMA_VERSION}, the newest this hub knows; ` +
        'run a newer Hearth or restore a backup made by this version',
    );
  }
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue;
    // IMMEDIATE: two processes opening a fresh file at once must not both run the migration.
    db.transaction(() => {
      if (userVersion(db) >= m.version) return;
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
  }
}

/** PRAGMA user_version: the number of the last migration applied. */
export function userVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}
