import type { Capability, HelloFrame } from '../../protocol/types.js';

export const THERMO_CAPS: Capability[] = [
  { id: 1, name: 'temperature', unit: '°C', valueType: 'float', deviceClass: 'temperature', writable: false, event: false },
  { id: 2, name: 'humidity', unit: '%', valueType: 'float', deviceClass: 'humidity', writable: false, event: false, min: 0, max: 100 },
  { id: 3, name: 'setpoint', unit: '°C', valueType: 'float', deviceClass: 'temperature', writable: true, event: false, min: 5, max: 30 },
  { id: 4, name: 'motion', unit: '', valueType: 'bool', deviceClass: 'motion', writable: false, event: true },
  { id: 5, name: 'mode', unit: '', valueType: 'enum', deviceClass: '', writable: true, event: false, options: ['off', 'heat', 'eco'] },
];

export function hello(lastAckedSeq = 0, capabilities: Capability[] = THERMO_CAPS): Omit<HelloFrame, 'type'> {
  return { model: 'test-thermo', firmware: '1.0.0', lastAckedSeq, capabilities };
}
