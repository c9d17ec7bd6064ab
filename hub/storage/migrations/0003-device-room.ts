import type { Migration } from './migration.js';

/**
 * A device's room (Home Assistant's area, Zigbee2MQTT's friendly-name grouping): set by the HTTP API's
 * PATCH /api/devices/:id and the MQTT bridge request device/rename, NULL until then. Same bound as names.
 */
export const migration0003: Migration = {
  version: 3,
  name: 'device-room',
  sql: `
ALTER TABLE devices ADD COLUMN room TEXT CHECK (room IS NULL OR length(room) BETWEEN 1 AND 64);
`,
};
