import type { Migration } from './migration.js';

/**
 * A counter of changes to the devices the registry keeps (added, removed, renamed, moved, revoked, new
 * token), bumped by triggers in the same transaction as the change. The hub's CLI watch polls it: PRAGMA
 * data_version alone also changes on every commit of the compaction worker, and re-reading 19,000 devices
 * each time cost the main thread ~100 ms a second. Model, firmware, capabilities and updates are left out:
 * the hub itself writes them from every HELLO.
 */
export const migration0005: Migration = {
  version: 5,
  name: 'device-changes',
  sql: `
CREATE TABLE device_changes (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL
) STRICT;
INSERT INTO device_changes (id, version) VALUES (1, 0);
CREATE TRIGGER device_added AFTER INSERT ON devices BEGIN UPDATE device_changes SET version = version + 1; END;
CREATE TRIGGER device_removed AFTER DELETE ON devices BEGIN UPDATE device_changes SET version = version + 1; END;
CREATE TRIGGER device_changed AFTER UPDATE OF name, room, token_salt, token_hash, revoked_at ON devices
  BEGIN UPDATE device_changes SET version = version + 1; END;
`,
};
