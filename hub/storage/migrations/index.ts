import { migration0001 } from './0001-initial.js';
import { migration0002 } from './0002-compaction-guard.js';
import { migration0003 } from './0003-device-room.js';
import { migration0004 } from './0004-firmware-updates.js';
import { migration0005 } from './0005-device-changes.js';
import { migration0006 } from './0006-ingest-journal.js';
import { migration0007 } from './0007-append-order-keys.js';
import type { Migration } from './migration.js';

export type { Migration } from './migration.js';

/** Every migration in order; versions are 1, 2, 3, ... with no gaps (database.test.ts checks). */
export const MIGRATIONS: readonly Migration[] = [migration0001, migration0002, migration0003, migration0004, migration0005, migration0006, migration0007];

/** The schema version this code writes: a database above it is refused. */
export const SCHEMA_VERSION = MIGRATIONS.length;
