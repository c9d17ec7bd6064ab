// Test support: capabilities and devices with defaults, for the MQTT bridge's tests.
import type { Capability } from '../../../protocol/types.js';
import type { DeviceInfo } from '../../events.js';

/** A capability with defaults for the fields a test does not care about. */
export function cap(partial: Partial<Capability> & Pick<Capability, 'name' | 'valueType'>): Capability {
  return { id: 0, unit: '', deviceClass: '', writable: false, event: false, ...partial };
}

/** A device with defaults; capability ids are numbered in order. */
export function device(partial: Partial<DeviceInfo> & Pick<DeviceInfo, 'id'>): DeviceInfo {
  const capabilities = (partial.capabilities ?? []).map((c, i) => ({ ...c, id: i + 1 }));
  return {
    name: partial.id,
    type: 'sensor',
    model: 'test-model',
    firmware: '1.0.0',
    online: false,
    lastSeen: null,
    createdAt: 0,
    ...partial,
    room: partial.room ?? null,
    capabilities,
  };
}

/** Capabilities of a typical thermostat, lamp and motion sensor. */
export const SAMPLE_CAPS = {
  temperature: cap({ name: 'temperature', valueType: 'float', unit: '°C', deviceClass: 'temperature' }),
  setpoint: cap({ name: 'setpoint', valueType: 'float', unit: '°C', deviceClass: 'temperature', writable: true, min: 5, max: 30 }),
  on: cap({ name: 'on', valueType: 'bool', writable: true }),
  brightness: cap({ name: 'brightness', valueType: 'int', unit: '%', writable: true, min: 0, max: 100 }),
  motion: cap({ name: 'motion', valueType: 'bool', deviceClass: 'motion' }),
  energy: cap({ name: 'energy', valueType: 'float', unit: 'kWh', deviceClass: 'energy' }),
  mode: cap({ name: 'mode', valueType: 'enum', options: ['eco', 'comfort', 'away'], writable: true }),
  status: cap({ name: 'status', valueType: 'enum', options: ['idle', 'heating'] }),
  label: cap({ name: 'label', valueType: 'string', writable: true }),
  button: cap({ name: 'button', valueType: 'enum', options: ['single', 'double', 'long'], event: true, deviceClass: 'button' }),
} satisfies Record<string, Capability>;
