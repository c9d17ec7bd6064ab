import type { Capability, Reading } from '../../protocol/index.js';
import type { CommandReply } from './model.js';
import { elapsedSeconds, int } from './values.js';

// What the battery-powered sensors (motion, door contact) share: their battery capability and reading, the
// idle drain, and that they take no commands.

/** The `battery` capability (%, read-only) under wire id `id`. */
export function batteryCapability(id: number): Capability {
  return { id, name: 'battery', unit: '%', valueType: 'int', deviceClass: 'battery', writable: false, event: false, min: 0, max: 100 };
}

/** Drains `state.battery` for the time since `state.last` at `perSecond` %/s, and moves `state.last` to now. */
export function drainIdle(state: { battery: number; last: number }, now: number, perSecond: number): void {
  state.battery = Math.max(0, state.battery - perSecond * elapsedSeconds(state.last, now));
  state.last = now;
}

/** The battery reading, in whole percent rounded up (a gauge shows 1% until it is empty). */
export function batteryReading(id: number, state: { battery: number }): Reading[] {
  return [{ metric: id, value: int(Math.ceil(state.battery)) }];
}

/** A sensor without writable capabilities answers every command 'unsupported'. */
export function refuseCommand(_state: unknown, capability: Capability): CommandReply {
  return { status: 'unsupported', message: `${capability.name} is not writable` };
}
