// Frame -> bytes. One switch on the frame type, one function per type; each checks its fields
// before writing them, and nothing leaves encode() unless the whole frame is valid.
import { checkCapabilities, writeCapabilities } from './capabilities.js';
import {
  COMMAND_STATUS_CODES,
  EXTENSION_TYPE_MIN,
  FLAG_RESEND,
  FRAME_TYPE_CODES,
  LIMITS,
  PROTOCOL_VERSION,
} from './constants.js';
import { ProtocolError } from './errors.js';
import { badField, checkByte, checkString, checkUint, show } from './field-checks.js';
import type {
  AckFrame,
  BatchFrame,
  CommandFrame,
  CommandResultFrame,
  ErrorFrame,
  EventFrame,
  ExtensionFrame,
  Frame,
  HelloFrame,
  TelemetryFrame,
  WelcomeFrame,
} from './types.js';
import { FLAG_UPDATES } from './ota-constants.js';
import { encodeOtaFrame, isOtaCode } from './ota-frames.js';
import { Writer } from './writer.js';

const ERROR_CODE_PATTERN = /^[A-Z][A-Z0-9_]*$/;

// One scratch buffer for every call (encode is synchronous and never re-entered); the result is a
// copy of exactly the frame's bytes. maxFrameBytes bounds it [FP-3.4].
const writer = new Writer(1024, LIMITS.maxFrameBytes);

/** The wire bytes of `frame`; throws ProtocolError (nothing else) when any field is invalid. */
export function encode(frame: Frame): Uint8Array {
  const w = writer;
  w.reset();
  switch (frame?.type) {
    case 'hello':
      encodeHello(w, frame);
      break;
    case 'welcome':
      encodeWelcome(w, frame);
      break;
    case 'telemetry':
      encodeTelemetry(w, frame);
      break;
    case 'batch':
      encodeBatch(w, frame);
      break;
    case 'ack':
      encodeAck(w, frame);
      break;
    case 'command':
      encodeCommand(w, frame);
      break;
    case 'command_result':
      encodeCommandResult(w, frame);
      break;
    case 'event':
      encodeEvent(w, frame);
      break;
    case 'error':
      encodeError(w, frame);
      break;
    case 'extension':
      encodeExtension(w, frame);
      break;
    case 'update_offer':
    case 'update_answer':
    case 'update_chunk':
    case 'update_progress':
    case 'update_result':
      encodeOtaFrame(w, frame, (code) => header(w, code));
      break;
    default:
      throw new ProtocolError('PROTO_ERR_UNKNOWN_TYPE', `unknown frame type ${show((frame as { type?: unknown } | null)?.type)} [FP-3.2]`);
  }
  return w.toBytes();
}

/** Version in the high nibble, flags in the low one [FP-3.1, FP-3.3]; then the type code [FP-3.2]. */
function header(w: Writer, code: number, flags = 0): void {
  w.u8((PROTOCOL_VERSION << 4) | flags);
  w.u8(code);
}

/** RESEND is only written on data frames, whose `resend` may be true [FP-3.3]. */
function resendFlag(resend: boolean | undefined): number {
  return resend === true ? FLAG_RESEND : 0;
}

function encodeHello(w: Writer, f: HelloFrame): void {
  checkString(f.model, LIMITS.maxModelBytes, 'model');
  checkString(f.firmware, LIMITS.maxFirmwareBytes, 'firmware');
  checkUint(f.lastAckedSeq, 'lastAckedSeq');
  checkCapabilities(f.capabilities);
  if (f.updates !== undefined && typeof f.updates !== 'boolean') throw badField('updates must be a boolean [FP-14.1]');
  header(w, FRAME_TYPE_CODES.hello, f.updates === true ? FLAG_UPDATES : 0);
  w.string(f.model, LIMITS.maxModelBytes, 'model');
  w.string(f.firmware, LIMITS.maxFirmwareBytes, 'firmware');
  w.varint(f.lastAckedSeq);
  writeCapabilities(w, f.capabilities);
}

function encodeWelcome(w: Writer, f: WelcomeFrame): void {
  checkUint(f.hubTime, 'hubTime');
  checkUint(f.heartbeatMs, 'heartbeatMs');
  checkUint(f.nextSeq, 'nextSeq');
  checkUint(f.maxFrameBytes, 'maxFrameBytes');
  checkUint(f.maxReadingsPerFrame, 'maxReadingsPerFrame');
  checkUint(f.maxBatchSamples, 'maxBatchSamples');
  checkUint(f.maxFramesPerSecond, 'maxFramesPerSecond');
  if (f.commandTimeoutMs !== undefined) checkUint(f.commandTimeoutMs, 'commandTimeoutMs');
  header(w, FRAME_TYPE_CODES.welcome);
  w.varint(f.hubTime);
  w.varint(f.heartbeatMs);
  w.varint(f.nextSeq);
  w.varint(f.maxFrameBytes);
  w.varint(f.maxReadingsPerFrame);
  w.varint(f.maxBatchSamples);
  w.varint(f.maxFramesPerSecond);
  if (f.commandTimeoutMs !== undefined) w.varint(f.commandTimeoutMs); // [FP-6.2] 1.1 sessions only
}

function encodeTelemetry(w: Writer, f: TelemetryFrame): void {
  checkUint(f.seq, 'seq', 1);
  checkUint(f.ts, 'ts');
  const readings = f.readings;
  if (!Array.isArray(readings) || readings.length === 0) throw badField('TELEMETRY needs at least one reading [FP-6.3]');
  if (readings.length > LIMITS.maxReadingsPerFrame) {
    throw new ProtocolError('PROTO_ERR_LIMIT', `${readings.length} readings, over ${LIMITS.maxReadingsPerFrame} [FP-6.3]`);
  }
  header(w, FRAME_TYPE_CODES.telemetry, resendFlag(f.resend));
  w.varint(f.seq);
  w.varint(f.ts);
  // No count: the readings run to the end of the frame [FP-6.3].
  for (let i = 0; i < readings.length; i++) {
    const reading = readings[i]!;
    if (typeof reading !== 'object' || reading === null) throw badField(`reading ${i} is not an object`);
    checkByte(reading.metric, 'metric');
    w.u8(reading.metric);
    w.value(reading.value);
  }
}

function encodeBatch(w: Writer, f: BatchFrame): void {
  checkUint(f.seq, 'seq', 1);
  const samples = f.samples;
  if (!Array.isArray(samples)) throw badField('BATCH samples must be an array');
  if (samples.length > LIMITS.maxBatchSamples) {
    throw new ProtocolError('PROTO_ERR_LIMIT', `${samples.length} samples, over ${LIMITS.maxBatchSamples} [FP-6.4]`);
  }
  let previous = 0;
  for (let i = 0; i < samples.length; i++) {
    const sample = samples[i]!;
    if (typeof sample !== 'object' || sample === null) throw badField(`sample ${i} is not an object`);
    checkUint(sample.ts, 'sample ts');
    if (sample.ts < previous) throw badField(`sample ${i} goes back in time (${sample.ts} < ${previous}) [FP-6.4]`);
    checkByte(sample.metric, 'metric');
    previous = sample.ts;
  }
  header(w, FRAME_TYPE_CODES.batch, resendFlag(f.resend));
  w.varint(f.seq);
  w.varint(samples.length);
  if (samples.length === 0) return;
  // Delta-encoded timestamps: the base once, then ms since the previous sample (0 for the first) [FP-6.4].
  previous = samples[0]!.ts;
  w.varint(previous);
  for (let i = 0; i < samples.length; i++) {
    const sample = samples[i]!;
    w.varint(sample.ts - previous);
    w.u8(sample.metric);
    w.value(sample.value);
    previous = sample.ts;
  }
}

function encodeAck(w: Writer, f: AckFrame): void {
  checkUint(f.seq, 'seq');
  header(w, FRAME_TYPE_CODES.ack);
  w.varint(f.seq);
}

function encodeCommand(w: Writer, f: CommandFrame): void {
  checkUint(f.id, 'command id');
  checkByte(f.metric, 'metric');
  header(w, FRAME_TYPE_CODES.command);
  w.varint(f.id);
  w.u8(f.metric);
  w.value(f.value);
}

function encodeCommandResult(w: Writer, f: CommandResultFrame): void {
  checkUint(f.id, 'command id');
  if (typeof f.status !== 'string' || !Object.hasOwn(COMMAND_STATUS_CODES, f.status)) throw badField(`unknown command status ${show(f.status)} [FP-6.7]`);
  checkString(f.message, LIMITS.maxMessageBytes, 'message');
  header(w, FRAME_TYPE_CODES.command_result);
  w.varint(f.id);
  w.u8(COMMAND_STATUS_CODES[f.status]);
  w.string(f.message, LIMITS.maxMessageBytes, 'message');
}

function encodeEvent(w: Writer, f: EventFrame): void {
  checkUint(f.seq, 'seq', 1);
  checkUint(f.ts, 'ts');
  checkByte(f.metric, 'metric');
  header(w, FRAME_TYPE_CODES.event, resendFlag(f.resend));
  w.varint(f.seq);
  w.varint(f.ts);
  w.u8(f.metric);
  w.value(f.value);
}

function encodeError(w: Writer, f: ErrorFrame): void {
  checkString(f.code, LIMITS.maxErrorCodeBytes, 'error code');
  if (!ERROR_CODE_PATTERN.test(f.code)) throw badField(`error code ${JSON.stringify(f.code)} is not [A-Z][A-Z0-9_]* [FP-6.9]`);
  checkString(f.message, LIMITS.maxMessageBytes, 'message');
  header(w, FRAME_TYPE_CODES.error);
  w.string(f.code, LIMITS.maxErrorCodeBytes, 'error code');
  w.string(f.message, LIMITS.maxMessageBytes, 'message');
}

function encodeExtension(w: Writer, f: ExtensionFrame): void {
  if (!Number.isInteger(f.code) || f.code < EXTENSION_TYPE_MIN || f.code > 0xff) {
    throw badField(`extension code ${show(f.code)} is not in 0x80..0xff [FP-10.2]`);
  }
  if (isOtaCode(f.code)) throw badField(`extension code 0x${f.code.toString(16)} is an update frame type [FP-14.2]`);
  if (!(f.payload instanceof Uint8Array)) throw badField('extension payload must be a Uint8Array [FP-10.2]');
  header(w, f.code);
  w.bytes(f.payload);
}
