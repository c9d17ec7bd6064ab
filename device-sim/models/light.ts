import type { Capability, Reading } from '../../protocol/index.js';
import type { DeviceModel } from './model.js';
import { bool, elapsedSeconds, int, occupancy } from './values.js';

const ON = 1;
const BRIGHTNESS = 2;

export interface LightState {
  on: boolean;
  brightness: number;
  last: number;
}

const capabilities: Capability[] = [
  { id: ON, name: 'on', unit: '', valueType: 'bool', deviceClass: '', writable: true, event: false },
  { id: BRIGHTNESS, name: 'brightness', unit: '%', valueType: 'int', deviceClass: '', writable: true, event: false, min: 0, max: 100 },
];

/** A dimmable bulb that people switch by hand, mostly in the morning and the evening. */
export const light: DeviceModel<LightState> = {
  name: 'light',
  model: 'Hearth Sim Bulb L2',
  firmware: '2.0.7',
  capabilities,

  init(now, rng) {
    return { on: rng.chance(0.3), brightness: rng.int(20, 100), last: now };
  },

  step(state, now, rng) {
    const dt = elapsedSeconds(state.last, now);
    state.last = now;
    // Manual switching: up to ~3 times an hour when the house is busy.
    const perSecond = (3 * occupancy(now)) / 3600;
    if (rng.chance(1 - Math.exp(-perSecond * dt))) {
      state.on = !state.on;
      if (state.on) state.brightness = rng.int(10, 100);
    }
    return { readings: read(state), events: [] };
  },

  readings: read,

  applyCommand(state, capability, value) {
    if (capability.id === ON && value.type === 'bool') state.on = value.value;
    else if (capability.id === BRIGHTNESS && value.type === 'int') state.brightness = value.value;
    else return { status: 'unsupported', message: `${capability.name} is not writable` };
    return { status: 'ok', message: '' };
  },
};

function read(state: LightState): Reading[] {
  return [
    { metric: ON, value: bool(state.on) },
    { metric: BRIGHTNESS, value: int(state.brightness) },
  ];
}
