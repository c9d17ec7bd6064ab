import type { Migration } from './migration.js';

/**
 * Firmware updates (firmware-protocol.md section 14): the images (their bytes live in the data directory,
 * content-addressed by SHA-256; the row is the catalogue) and one row per update of one device, whose state
 * survives a hub restart. An update's id is the updateId on the wire [FP-14.3], so it is never reused.
 */
export const migration0004: Migration = {
  version: 4,
  name: 'firmware-updates',
  sql: `
-- The device's last HELLO set UPDATES [FP-14.1]: it gets a Home Assistant update entity.
ALTER TABLE devices ADD COLUMN updates INTEGER NOT NULL DEFAULT 0 CHECK (updates IN (0, 1));

CREATE TABLE firmware_images (
  sha256 TEXT PRIMARY KEY NOT NULL CHECK (length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*'),
  model TEXT NOT NULL CHECK (length(model) BETWEEN 1 AND 64),
  version TEXT NOT NULL CHECK (length(version) BETWEEN 1 AND 32),
  size INTEGER NOT NULL CHECK (size BETWEEN 1 AND 4294967295),
  added_at INTEGER NOT NULL CHECK (added_at >= 0),
  UNIQUE (model, version)
) STRICT;

CREATE TABLE firmware_updates (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  sha256 TEXT NOT NULL REFERENCES firmware_images (sha256),
  version TEXT NOT NULL,
  from_version TEXT NOT NULL,
  size INTEGER NOT NULL CHECK (size >= 1),
  state TEXT NOT NULL CHECK (state IN ('queued', 'transferring', 'verifying', 'done', 'failed', 'rolled_back')),
  -- The device's last confirmed offset [FP-14.5]: where the next connection resumes [FP-14.6].
  offset INTEGER NOT NULL DEFAULT 0 CHECK (offset BETWEEN 0 AND size),
  -- UPDATE_RESULT verified arrived: a HELLO with the old version is then a rollback [FP-14.7].
  verified INTEGER NOT NULL DEFAULT 0 CHECK (verified IN (0, 1)),
  resumes INTEGER NOT NULL DEFAULT 0 CHECK (resumes >= 0),
  reason TEXT,
  retry_at INTEGER,
  created_at INTEGER NOT NULL CHECK (created_at >= 0),
  updated_at INTEGER NOT NULL CHECK (updated_at >= 0)
) STRICT;

-- At most one unfinished update per device; the scheduler reads them by state.
CREATE UNIQUE INDEX firmware_updates_open ON firmware_updates (device_id) WHERE state IN ('queued', 'transferring', 'verifying');
CREATE INDEX firmware_updates_device ON firmware_updates (device_id, id);
`,
};
