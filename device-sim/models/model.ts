import type { Capability, CommandStatus, Reading, Value } from '../../protocol/index.js';
import type { Rng } from '../rng.js';

/** One discrete occurrence a model produced, stamped with the device time it happened at. */
export interface ModelEvent {
  ts: number;
  metric: number;
  value: Value;
}

/** What one simulation step produced: the current readings (non-event metrics) and any events since the last step. */
export interface StepOutput {
  readings: Reading[];
  events: ModelEvent[];
}

export interface CommandReply {
  status: CommandStatus;
  message: string;
}

/**
 * A kind of simulated device. The state is a plain object the device owns and the model mutates; models
 * hold no per-device data themselves, so one model object serves 10,000 devices.
 */
export interface DeviceModel<S = unknown> {
  /** Registry key and provisioning type ('thermostat'). */
  readonly name: string;
  /** HELLO model string [FP-6.1]. */
  readonly model: string;
  readonly firmware: string;
  readonly capabilities: readonly Capability[];
  /** A fresh device's state at device time `now`. */
  init(now: number, rng: Rng): S;
  /** Advances the state to `now` and reports readings plus the events that happened since the last step. */
  step(state: S, now: number, rng: Rng): StepOutput;
  /** The current readings without advancing time (sent right after a command). */
  readings(state: S): Reading[];
  /** Applies a COMMAND whose value already matches the capability's type and range. */
  applyCommand(state: S, capability: Capability, value: Value): CommandReply;
}
