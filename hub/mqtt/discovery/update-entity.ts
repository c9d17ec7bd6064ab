// The Home Assistant `update` entity of a device that accepts firmware updates (firmware-protocol.md section
// 14): state from the retained `<base>/<device>/update` JSON, the Install button on `<base>/<device>/update/install`.
import type { DeviceInfo } from '../../events.js';
import type { Topics } from '../topics.js';
import type { BaseOf, HaEntity } from './entities.js';

/** What the Install button publishes. */
export const UPDATE_INSTALL_PAYLOAD = 'install';

/** The update entity of `device`: HA reads installed_version, latest_version, in_progress and update_percentage from the JSON. */
export function updateEntity(device: DeviceInfo, topics: Topics, base: BaseOf): HaEntity {
  return {
    platform: 'update',
    key: 'firmware',
    capabilities: [],
    fields: {
      ...base('update', 'firmware'),
      device_class: 'firmware',
      entity_category: 'config',
      state_topic: topics.update(device.id),
      command_topic: topics.updateInstall(device.id),
      payload_install: UPDATE_INSTALL_PAYLOAD,
      title: device.model || device.type || 'Firmware',
    },
  };
}
