import type { Capability, Reading } from '../../protocol/index.js';
import type { DeviceModel } from './model.js';
import { dailyWave, elapsedSeconds, float, quantize } from './values.js';

const TEMPERATURE = 1;
const HUMIDITY = 2;
const SETPOINT = 3;

export interface ThermostatState {
  /** The room's true temperature, °C (the reading adds sensor noise). */
  room: number;
  humidity: number;
  setpoint: number;
  last: number;
}

const capabilities: Capability[] = [
  { id: TEMPERATURE, name: 'temperature', unit: '°C', valueType: 'float', deviceClass: 'temperature', writable: false, event: false, min: -40, max: 85 },
  { id: HUMIDITY, name: 'humidity', unit: '%', valueType: 'float', deviceClass: 'humidity', writable: false, event: false, min: 0, max: 100 },
  { id: SETPOINT, name: 'setpoint', unit: '°C', valueType: 'float', deviceClass: 'temperature', writable: true, event: false, min: 5, max: 30 },
];

/** A room thermostat: the room drifts toward the setpoint (heating) and toward outside air (losses). */
export const thermostat: DeviceModel<ThermostatState> = {
  name: 'thermostat',
  model: 'Hearth Sim Thermostat T1',
  firmware: '1.4.2',
  capabilities,

  init(now, rng) {
    const setpoint = quantize(rng.range(19, 22), 0.5, 5, 30);
    return { room: setpoint + rng.normal(0.8), humidity: rng.range(38, 52), setpoint, last: now };
  },

  step(state, now, rng) {
    const dt = elapsedSeconds(state.last, now);
    state.last = now;
    const outside = 8 + 6 * dailyWave(now, 15);
    // Heating pulls toward the setpoint with a ~20 min time constant, walls leak toward outside (~10 h).
    const heat = (state.setpoint - state.room) * (1 - Math.exp(-dt / 1200));
    const loss = (outside - state.room) * (1 - Math.exp(-dt / 36000));
    state.room += heat + loss + rng.normal(0.01) * Math.sqrt(dt);
    const targetHumidity = 45 - 8 * dailyWave(now, 15);
    state.humidity += (targetHumidity - state.humidity) * (1 - Math.exp(-dt / 7200)) + rng.normal(0.05) * Math.sqrt(dt);
    state.humidity = Math.min(95, Math.max(10, state.humidity));
    return { readings: readWithNoise(state, rng.normal(0.03), rng.normal(0.2)), events: [] };
  },

  readings(state) {
    return readWithNoise(state, 0, 0);
  },

  applyCommand(state, capability, value) {
    if (capability.id !== SETPOINT || value.type !== 'float') return { status: 'unsupported', message: `${capability.name} is not writable` };
    state.setpoint = value.value;
    return { status: 'ok', message: '' };
  },
};

function readWithNoise(state: ThermostatState, tempNoise: number, humidityNoise: number): Reading[] {
  return [
    { metric: TEMPERATURE, value: float(quantize(state.room + tempNoise, 1 / 16, -40, 85)) },
    { metric: HUMIDITY, value: float(quantize(state.humidity + humidityNoise, 1 / 8, 0, 100)) },
    { metric: SETPOINT, value: float(state.setpoint) },
  ];
}
