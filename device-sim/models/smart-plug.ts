import type { Capability, Reading } from '../../protocol/index.js';
import type { DeviceModel } from './model.js';
import { bool, dailyWave, elapsedSeconds, float, quantize } from './values.js';

const ON = 1;
const POWER = 2;
const ENERGY = 3;
const MAX_POWER_W = 3680;

export interface SmartPlugState {
  on: boolean;
  /** Nominal draw of whatever is plugged in, W. */
  load: number;
  power: number;
  energyKwh: number;
  last: number;
}

const capabilities: Capability[] = [
  { id: ON, name: 'on', unit: '', valueType: 'bool', deviceClass: '', writable: true, event: false },
  { id: POWER, name: 'power', unit: 'W', valueType: 'float', deviceClass: 'power', writable: false, event: false, min: 0, max: MAX_POWER_W },
  { id: ENERGY, name: 'energy', unit: 'kWh', valueType: 'float', deviceClass: 'energy', writable: false, event: false, min: 0, max: 1e9 },
];

/** A metering plug: draws a load that follows the day while on; energy accumulates while on. */
export const smartPlug: DeviceModel<SmartPlugState> = {
  name: 'smart_plug',
  model: 'Hearth Sim Plug P1',
  firmware: '3.1.0',
  capabilities,

  init(now, rng) {
    return { on: rng.chance(0.7), load: rng.range(20, 400), power: 0, energyKwh: rng.range(0, 50), last: now };
  },

  step(state, now, rng) {
    const dt = elapsedSeconds(state.last, now);
    state.last = now;
    state.power = state.on ? Math.max(0, state.load * (1 + 0.3 * dailyWave(now, 20)) + rng.normal(state.load * 0.02)) : 0;
    state.energyKwh += (state.power * dt) / 3_600_000;
    return { readings: read(state), events: [] };
  },

  readings: read,

  applyCommand(state, capability, value) {
    if (capability.id !== ON || value.type !== 'bool') return { status: 'unsupported', message: `${capability.name} is not writable` };
    state.on = value.value;
    state.power = state.on ? state.load : 0;
    return { status: 'ok', message: '' };
  },
};

function read(state: SmartPlugState): Reading[] {
  return [
    { metric: ON, value: bool(state.on) },
    { metric: POWER, value: float(quantize(state.power, 1 / 8, 0, MAX_POWER_W)) },
    // 1/1024 kWh stays exact in float32 up to 16,384 kWh.
    { metric: ENERGY, value: float(quantize(state.energyKwh, 1 / 1024, 0, 1e9)) },
  ];
}
