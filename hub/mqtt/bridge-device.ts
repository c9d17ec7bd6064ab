import type { DeviceInfo } from '../events.js';
import type { BridgeDevice } from './topics.js';

/** One entry of `<base>/bridge/devices`. */
export function bridgeDevice(d: DeviceInfo): BridgeDevice {
  return {
    id: d.id,
    name: d.name,
    type: d.type,
    model: d.model,
    firmware: d.firmware,
    room: d.room,
    ...(d.updatable === true ? { updatable: true } : {}),
    online: d.online,
    lastSeen: d.lastSeen,
    capabilities: d.capabilities.map((c) => ({
      name: c.name,
      valueType: c.valueType,
      unit: c.unit,
      deviceClass: c.deviceClass,
      writable: c.writable,
      event: c.event,
      ...(c.min !== undefined ? { min: c.min } : {}),
      ...(c.max !== undefined ? { max: c.max } : {}),
      ...(c.options !== undefined ? { options: [...c.options] } : {}),
    })),
  };
}
