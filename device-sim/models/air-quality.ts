import type { Capability, Reading } from '../../protocol/index.js';
import type { DeviceModel } from './model.js';
import { elapsedSeconds, float, hourOfDay, occupancy, quantize } from './values.js';

const CO2 = 1;
const PM25 = 2;

export interface AirQualityState {
  co2: number;
  pm25: number;
  last: number;
}

const capabilities: Capability[] = [
  { id: CO2, name: 'co2', unit: 'ppm', valueType: 'float', deviceClass: 'carbon_dioxide', writable: false, event: false, min: 400, max: 5000 },
  { id: PM25, name: 'pm25', unit: 'µg/m³', valueType: 'float', deviceClass: 'pm25', writable: false, event: false, min: 0, max: 1000 },
];

/** Indoor air: CO2 rises with people at home, PM2.5 spikes around cooking times. */
export const airQuality: DeviceModel<AirQualityState> = {
  name: 'air_quality',
  model: 'Hearth Sim Air A1',
  firmware: '0.9.5',
  capabilities,

  init(now, rng) {
    return { co2: 420 + 500 * occupancy(now) + rng.normal(20), pm25: rng.range(3, 12), last: now };
  },

  step(state, now, rng) {
    const dt = elapsedSeconds(state.last, now);
    state.last = now;
    const co2Target = 420 + 700 * occupancy(now);
    state.co2 += (co2Target - state.co2) * (1 - Math.exp(-dt / 1800)) + rng.normal(2) * Math.sqrt(dt);
    const h = hourOfDay(now);
    const cooking = (h > 7 && h < 8) || (h > 12 && h < 13) || (h > 18.5 && h < 19.5);
    const pmTarget = cooking ? 35 : 6;
    state.pm25 += (pmTarget - state.pm25) * (1 - Math.exp(-dt / 600)) + rng.normal(0.1) * Math.sqrt(dt);
    state.pm25 = Math.max(0, state.pm25);
    return { readings: read(state), events: [] };
  },

  readings: read,

  applyCommand(_state, capability) {
    return { status: 'unsupported', message: `${capability.name} is not writable` };
  },
};

function read(state: AirQualityState): Reading[] {
  return [
    { metric: CO2, value: float(quantize(state.co2, 1, 400, 5000)) },
    { metric: PM25, value: float(quantize(state.pm25, 1 / 8, 0, 1000)) },
  ];
}
