// Bytes -> Frame. One switch on the type code, one function per frame type. Every failure is a
// ProtocolError carrying its stable code and the close code to send [FP-11.2].
import { readCapabilities } from './capabilities.js';
import {
  COMMAND_STATUS_CODES,
  EXTENSION_TYPE_MIN,
  FLAG_RESEND,
  FRAME_TYPE_CODES,
  LIMITS,
  MAX_VARINT,
  PROTOCOL_VERSION,
} from './constants.js';
import { ProtocolError } from './errors.js';
import { badField } from './field-checks.js';
import { FLAG_UPDATES } from './ota-constants.js';
import { decodeOtaFrame, isOtaCode } from './ota-frames.js';
import { Reader } from './reader.js';
import type {
  AckFrame,
  BatchFrame,
  CommandFrame,
  CommandResultFrame,
  CommandStatus,
  ErrorFrame,
  EventFrame,
  Frame,
  HelloFrame,
  Reading,
  Sample,
  TelemetryFrame,
  WelcomeFrame,
} from './types.js';
import { readValue } from './value.js';

const ERROR_CODE_PATTERN = /^[A-Z][A-Z0-9_]*$/;
const COMMAND_STATUSES: readonly CommandStatus[] = (() => {
  const byCode: CommandStatus[] = [];
  for (const [status, code] of Object.entries(COMMAND_STATUS_CODES)) byCode[code] = status as CommandStatus;
  return byCode;
})();
/** Smallest BATCH sample: 1-byte delta, metric id, 1-byte value (a bool) [FP-6.4]. */
const MIN_SAMPLE_BYTES = 3;

/** The frame held by `bytes` (one whole WebSocket message); throws only ProtocolError. */
export function decode(bytes: Uint8Array): Frame {
  const length = bytes.length;
  if (length < 2) throw new ProtocolError('PROTO_ERR_TRUNCATED', `${length}-byte input, the header alone is 2 [FP-3.4]`);
  if (length > LIMITS.maxFrameBytes) {
    throw new ProtocolError('PROTO_ERR_LIMIT', `${length}-byte frame, over ${LIMITS.maxFrameBytes} [FP-3.4]`);
  }
  const b0 = bytes[0]!;
  if (b0 >> 4 !== PROTOCOL_VERSION) throw new ProtocolError('PROTO_ERR_BAD_VERSION', `version ${b0 >> 4} [FP-3.1]`);
  // Reserved flag bits 1-3 are ignored [FP-3.3]; RESEND only means something on data frames.
  const resend = (b0 & FLAG_RESEND) !== 0;
  const code = bytes[1]!;
  // Update frames of protocol 1.1: extension codes this version knows [FP-14.2].
  if (isOtaCode(code)) return decodeOtaFrame(code, new Reader(bytes, 2, length));
  if (code >= EXTENSION_TYPE_MIN) {
    // Unknown to this version: handed up whole so the receiver can ignore it [FP-10.2].
    // A plain copy: a Node Buffer's slice() would share memory and keep the Buffer class.
    const payload = new Uint8Array(length - 2);
    payload.set(bytes.subarray(2));
    return { type: 'extension', code, payload };
  }
  const r = new Reader(bytes, 2, length);
  switch (code) {
    case FRAME_TYPE_CODES.hello:
      return decodeHello(r, (b0 & FLAG_UPDATES) !== 0);
    case FRAME_TYPE_CODES.welcome:
      return decodeWelcome(r);
    case FRAME_TYPE_CODES.telemetry:
      return decodeTelemetry(r, resend);
    case FRAME_TYPE_CODES.batch:
      return decodeBatch(r, resend);
    case FRAME_TYPE_CODES.ack:
      return decodeAck(r);
    case FRAME_TYPE_CODES.command:
      return decodeCommand(r);
    case FRAME_TYPE_CODES.command_result:
      return decodeCommandResult(r);
    case FRAME_TYPE_CODES.event:
      return decodeEvent(r, resend);
    case FRAME_TYPE_CODES.error:
      return decodeError(r);
    default:
      throw new ProtocolError('PROTO_ERR_UNKNOWN_TYPE', `unknown frame type 0x${code.toString(16)} [FP-3.2]`);
  }
}

function decodeHello(r: Reader, updates: boolean): HelloFrame {
  const model = r.string(LIMITS.maxModelBytes, 'model');
  const firmware = r.string(LIMITS.maxFirmwareBytes, 'firmware');
  const lastAckedSeq = r.varint();
  const capabilities = readCapabilities(r);
  r.expectEnd();
  const hello: HelloFrame = { type: 'hello', model, firmware, lastAckedSeq, capabilities };
  if (updates) hello.updates = true; // [FP-14.1]
  return hello;
}

function decodeWelcome(r: Reader): WelcomeFrame {
  const frame: WelcomeFrame = {
    type: 'welcome',
    hubTime: r.varint(),
    heartbeatMs: r.varint(),
    nextSeq: r.varint(),
    maxFrameBytes: r.varint(),
    maxReadingsPerFrame: r.varint(),
    maxBatchSamples: r.varint(),
    maxFramesPerSecond: r.varint(),
  };
  // [FP-6.2] the 1.1 field, appended [FP-10.2]: present only when bytes follow the 1.0 fields.
  if (r.pos < r.end) frame.commandTimeoutMs = r.varint();
  r.expectEnd();
  return frame;
}

function decodeTelemetry(r: Reader, resend: boolean): TelemetryFrame {
  const seq = readSeq(r);
  const ts = r.varint();
  const readings: Reading[] = [];
  // No count byte: readings run to the end of the frame [FP-6.3].
  while (r.pos < r.end) {
    if (readings.length === LIMITS.maxReadingsPerFrame) {
      throw new ProtocolError('PROTO_ERR_LIMIT', `more than ${LIMITS.maxReadingsPerFrame} readings [FP-6.3]`);
    }
    const metric = r.u8();
    readings.push({ metric, value: readValue(r) });
  }
  if (readings.length === 0) throw badField('TELEMETRY without readings [FP-6.3]');
  return resend ? { type: 'telemetry', seq, ts, readings, resend } : { type: 'telemetry', seq, ts, readings };
}

function decodeBatch(r: Reader, resend: boolean): BatchFrame {
  const seq = readSeq(r);
  const count = r.varint();
  if (count > LIMITS.maxBatchSamples) {
    throw new ProtocolError('PROTO_ERR_LIMIT', `${count} samples, over ${LIMITS.maxBatchSamples} [FP-6.4]`);
  }
  // Refuse a count the bytes cannot hold before allocating anything for it [FP-6.4].
  if (count > 0 && 1 + count * MIN_SAMPLE_BYTES > r.remaining) {
    throw new ProtocolError('PROTO_ERR_LENGTH_OVERRUN', `${count} samples cannot fit in ${r.remaining} bytes [FP-6.4]`);
  }
  const samples: Sample[] = [];
  if (count > 0) {
    let ts = r.varint();
    for (let i = 0; i < count; i++) {
      const delta = r.varint();
      if (i === 0 && delta !== 0) throw badField(`first sample delta ${delta}, must be 0 [FP-6.4]`);
      ts += delta;
      if (ts > MAX_VARINT) throw badField(`sample ${i} timestamp passes 2^53-1 [FP-6.4]`);
      const metric = r.u8();
      samples.push({ ts, metric, value: readValue(r) });
    }
  }
  r.expectEnd();
  return resend ? { type: 'batch', seq, samples, resend } : { type: 'batch', seq, samples };
}

function decodeAck(r: Reader): AckFrame {
  const seq = r.varint();
  r.expectEnd();
  return { type: 'ack', seq };
}

function decodeCommand(r: Reader): CommandFrame {
  const id = r.varint();
  const metric = r.u8();
  const value = readValue(r);
  r.expectEnd();
  return { type: 'command', id, metric, value };
}

function decodeCommandResult(r: Reader): CommandResultFrame {
  const id = r.varint();
  const statusCode = r.u8();
  const status = COMMAND_STATUSES[statusCode];
  if (status === undefined) throw badField(`unknown command status ${statusCode} [FP-6.7]`);
  const message = r.string(LIMITS.maxMessageBytes, 'message');
  r.expectEnd();
  return { type: 'command_result', id, status, message };
}

function decodeEvent(r: Reader, resend: boolean): EventFrame {
  const seq = readSeq(r);
  const ts = r.varint();
  const metric = r.u8();
  const value = readValue(r);
  r.expectEnd();
  return resend ? { type: 'event', seq, ts, metric, value, resend } : { type: 'event', seq, ts, metric, value };
}

function decodeError(r: Reader): ErrorFrame {
  const code = r.string(LIMITS.maxErrorCodeBytes, 'error code');
  if (!ERROR_CODE_PATTERN.test(code)) throw badField(`error code ${JSON.stringify(code)} is not [A-Z][A-Z0-9_]* [FP-6.9]`);
  const message = r.string(LIMITS.maxMessageBytes, 'message');
  r.expectEnd();
  return { type: 'error', code, message };
}

/** Data-frame sequence numbers start at 1 [FP-8.1]. */
function readSeq(r: Reader): number {
  const seq = r.varint();
  if (seq < 1) throw badField('seq 0: sequence numbers start at 1 [FP-8.1]');
  return seq;
}
