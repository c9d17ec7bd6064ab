// The typed form of every frame of firmware-protocol.md. `Frame` is the one union on `type`;
// decode() produces it and encode() consumes it. Byte layouts live in firmware-protocol.md.
import type { OtaFrame } from './ota-types.js';

/** Value types a capability can declare [FP-5.1]. */
export type ValueType = 'bool' | 'int' | 'float' | 'string' | 'enum';

/**
 * A typed value. `int` is a signed integer in [INT_MIN, INT_MAX]; `float` is a finite number
 * (NaN and infinities are refused); `string` is UTF-8 of at most MAX_STRING_BYTES bytes; `enum`
 * is an index into the capability's `options`.
 */
export type Value =
  | { type: 'bool'; value: boolean }
  | { type: 'int'; value: number }
  | { type: 'float'; value: number }
  | { type: 'string'; value: string }
  | { type: 'enum'; value: number };

/** One metric, command or event a device declares in HELLO [FP-6.1]. */
export interface Capability {
  /** Small integer the device uses on the wire for this metric, unique per device. */
  id: number;
  /** Stable name, `[a-z][a-z0-9_]*`, used in MQTT topics and the API. */
  name: string;
  /** Unit of measurement ('°C', 'W', '%'), '' for none. */
  unit: string;
  valueType: ValueType;
  /** Home Assistant style device class ('temperature', 'motion', ...), '' for none. */
  deviceClass: string;
  /** The hub may send COMMAND frames that set it. */
  writable: boolean;
  /** Reported as EVENT frames (discrete occurrences) rather than as TELEMETRY readings. */
  event: boolean;
  /** Inclusive numeric range for `int` and `float`; both or neither. */
  min?: number;
  max?: number;
  /** Names of the enum's values, for `enum` only (index = wire value). */
  options?: string[];
}

/** One value of one metric in a TELEMETRY frame. */
export interface Reading {
  metric: number;
  value: Value;
}

/** One timestamped value in a BATCH frame. */
export interface Sample {
  /** Device clock, milliseconds since the Unix epoch. */
  ts: number;
  metric: number;
  value: Value;
}

export interface HelloFrame {
  type: 'hello';
  model: string;
  firmware: string;
  /** Highest sequence number the device believes the hub has acknowledged (0 if none). */
  lastAckedSeq: number;
  capabilities: Capability[];
  /** Header flag UPDATES: the device accepts firmware updates (protocol 1.1); absent when not set [FP-14.1]. */
  updates?: boolean;
}

export interface WelcomeFrame {
  type: 'welcome';
  /** Hub clock, milliseconds since the Unix epoch, for the device to set its clock. */
  hubTime: number;
  /** The hub pings this often; a device may use it to detect a dead hub. */
  heartbeatMs: number;
  /** Sequence number the hub expects next (its durably stored highest + 1). */
  nextSeq: number;
  maxFrameBytes: number;
  maxReadingsPerFrame: number;
  maxBatchSamples: number;
  /** Sustained data frames per second the hub accepts from this device. */
  maxFramesPerSecond: number;
  /**
   * Protocol 1.1: how long the hub waits for a COMMAND_RESULT, in ms [FP-7.7]. A 1.1 field appended after
   * the 1.0 ones [FP-10.2]: on the wire (and here) only in a session that negotiated hearth.v1.1 [FP-2.2].
   */
  commandTimeoutMs?: number;
}

export interface TelemetryFrame {
  type: 'telemetry';
  seq: number;
  /** Device clock, milliseconds since the Unix epoch; 0 = device has no clock, hub stamps it. */
  ts: number;
  readings: Reading[];
  /** Header flag: this frame may have been sent before on an earlier connection. */
  resend?: boolean;
}

export interface BatchFrame {
  type: 'batch';
  seq: number;
  /** Samples in non-decreasing `ts` order (delta-encoded on the wire). May be empty. */
  samples: Sample[];
  resend?: boolean;
}

export interface AckFrame {
  type: 'ack';
  /** Highest sequence number durably stored for this device; acknowledges every lower one too. */
  seq: number;
}

export interface CommandFrame {
  type: 'command';
  /** Hub-chosen id that the COMMAND_RESULT echoes. */
  id: number;
  /** Capability id of a writable capability. */
  metric: number;
  value: Value;
}

export type CommandStatus = 'ok' | 'invalid' | 'failed' | 'unsupported' | 'busy';

export interface CommandResultFrame {
  type: 'command_result';
  id: number;
  status: CommandStatus;
  /** Human readable detail, '' for none. */
  message: string;
}

export interface EventFrame {
  type: 'event';
  seq: number;
  ts: number;
  /** Capability id of an event capability. */
  metric: number;
  value: Value;
  resend?: boolean;
}

export interface ErrorFrame {
  type: 'error';
  /** Stable error code, e.g. 'HUB_ERR_RATE_LIMITED' (tabled in firmware-protocol.md). */
  code: string;
  message: string;
}

/** A frame type in the extension range (0x80-0xFF) this version does not know; receivers ignore it. */
export interface ExtensionFrame {
  type: 'extension';
  code: number;
  payload: Uint8Array;
}

export type Frame =
  | HelloFrame
  | WelcomeFrame
  | TelemetryFrame
  | BatchFrame
  | AckFrame
  | CommandFrame
  | CommandResultFrame
  | EventFrame
  | ErrorFrame
  | ExtensionFrame
  | OtaFrame;

export type FrameType = Frame['type'];

/** Frames a device sends that carry a sequence number and are stored exactly once. */
export type DataFrame = TelemetryFrame | BatchFrame | EventFrame;
