import type { Capability, Reading } from '../../protocol/index.js';
import type { DeviceModel, ModelEvent } from './model.js';
import { batteryCapability, batteryReading, drainIdle, refuseCommand } from './battery.js';
import { occurrences, type BurstShape } from './bursts.js';
import { enumValue, occupancy } from './values.js';

const CONTACT = 1;
const BATTERY = 2;
const CLOSED = 0;
const OPEN = 1;
const DRAIN_PER_SECOND = 0.3 / 86_400;
const DRAIN_PER_EVENT = 0.002;

export interface DoorContactState {
  open: boolean;
  closesAt: number;
  battery: number;
  excitement: number;
  last: number;
}

const capabilities: Capability[] = [
  { id: CONTACT, name: 'contact', unit: '', valueType: 'enum', deviceClass: 'door', writable: false, event: true, options: ['closed', 'open'] },
  batteryCapability(BATTERY),
];

const shape: BurstShape = { baseRate: (t) => (6 * occupancy(t)) / 3600, branching: 0.6, decayMs: 300_000 };

/** A door contact: people go in and out in bursts; the door stays open a few seconds each time. */
export const doorContact: DeviceModel<DoorContactState> = {
  name: 'door_contact',
  model: 'Hearth Sim Door D1',
  firmware: '1.2.0',
  capabilities,

  init(now, rng) {
    return { open: false, closesAt: 0, battery: rng.range(55, 100), excitement: 0, last: now };
  },

  step(state, now, rng) {
    const events: ModelEvent[] = [];
    const report = (ts: number, open: boolean): void => {
      events.push({ ts, metric: CONTACT, value: enumValue(open ? OPEN : CLOSED) });
      state.battery -= DRAIN_PER_EVENT;
    };
    for (const t of occurrences(state, shape, state.last, now, rng)) {
      if (state.open && state.closesAt <= t) {
        state.open = false;
        report(state.closesAt, false);
      }
      if (!state.open) report(t, true);
      state.open = true;
      state.closesAt = Math.max(state.closesAt, t + Math.round(rng.range(3_000, 40_000)));
    }
    if (state.open && state.closesAt <= now) {
      state.open = false;
      report(state.closesAt, false);
    }
    drainIdle(state, now, DRAIN_PER_SECOND);
    return { readings: read(state), events };
  },

  readings: read,

  applyCommand: refuseCommand,
};

function read(state: DoorContactState): Reading[] {
  return batteryReading(BATTERY, state);
}
