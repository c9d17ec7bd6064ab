import type { Capability, Reading } from '../../protocol/index.js';
import type { DeviceModel, ModelEvent } from './model.js';
import { batteryCapability, batteryReading, drainIdle, refuseCommand } from './battery.js';
import { occurrences, type BurstShape } from './bursts.js';
import { bool, occupancy } from './values.js';

const MOTION = 1;
const BATTERY = 2;
/** A PIR reports "clear" after this long without a trigger. */
const CLEAR_AFTER_MS = 60_000;
/** ...and re-reports "motion" at most this often while triggers continue. */
const RETRIGGER_MS = 30_000;
/** Battery: about 0.5 % a day idle, plus a little per report. */
const DRAIN_PER_SECOND = 0.5 / 86_400;
const DRAIN_PER_EVENT = 0.002;

export interface MotionSensorState {
  motion: boolean;
  lastTrigger: number;
  lastReported: number;
  battery: number;
  excitement: number;
  last: number;
}

const capabilities: Capability[] = [
  { id: MOTION, name: 'motion', unit: '', valueType: 'bool', deviceClass: 'motion', writable: false, event: true },
  batteryCapability(BATTERY),
];

const shape: BurstShape = { baseRate: (t) => (20 * occupancy(t)) / 3600, branching: 0.8, decayMs: 120_000 };

/** A battery PIR sensor: bursts of motion while someone is around, then "clear". */
export const motionSensor: DeviceModel<MotionSensorState> = {
  name: 'motion_sensor',
  model: 'Hearth Sim Motion M1',
  firmware: '1.0.3',
  capabilities,

  init(now, rng) {
    return { motion: false, lastTrigger: 0, lastReported: 0, battery: rng.range(55, 100), excitement: 0, last: now };
  },

  step(state, now, rng) {
    const events: ModelEvent[] = [];
    const report = (ts: number, motion: boolean): void => {
      events.push({ ts, metric: MOTION, value: bool(motion) });
      state.battery -= DRAIN_PER_EVENT;
    };
    for (const t of occurrences(state, shape, state.last, now, rng)) {
      if (state.motion && t - state.lastTrigger >= CLEAR_AFTER_MS) {
        state.motion = false;
        report(state.lastTrigger + CLEAR_AFTER_MS, false);
      }
      if (!state.motion || t - state.lastReported >= RETRIGGER_MS) {
        state.motion = true;
        state.lastReported = t;
        report(t, true);
      }
      state.lastTrigger = t;
    }
    if (state.motion && now - state.lastTrigger >= CLEAR_AFTER_MS) {
      state.motion = false;
      report(state.lastTrigger + CLEAR_AFTER_MS, false);
    }
    drainIdle(state, now, DRAIN_PER_SECOND);
    return { readings: read(state), events };
  },

  readings: read,

  applyCommand: refuseCommand,
};

function read(state: MotionSensorState): Reading[] {
  return batteryReading(BATTERY, state);
}
