// The firmware-update frames of protocol 1.1 (firmware-protocol.md section 14): one decode and one encode
// function per type, registered in decode.ts and encode.ts. Field failures are the ProtocolErrors of
// section 11, so a receiver answers them like any other frame's.
import { LIMITS } from './constants.js';
import { ProtocolError } from './errors.js';
import { badField, checkString, checkUint, show } from './field-checks.js';
import { OTA_FRAME_TYPE_CODES, OTA_LIMITS, REASON_PATTERN, UPDATE_DECISION_CODES, UPDATE_RESULT_CODES } from './ota-constants.js';
import type {
  OtaFrame,
  UpdateAnswerFrame,
  UpdateChunkFrame,
  UpdateDecision,
  UpdateOfferFrame,
  UpdateProgressFrame,
  UpdateResultFrame,
  UpdateResultStatus,
} from './ota-types.js';
import type { Reader } from './reader.js';
import type { Writer } from './writer.js';

const SHA256_BYTES = 32;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function byCode<T extends string>(codes: Record<T, number>): readonly (T | undefined)[] {
  const out: (T | undefined)[] = [];
  for (const [name, code] of Object.entries(codes) as [T, number][]) out[code] = name;
  return out;
}
const DECISIONS = byCode<UpdateDecision>(UPDATE_DECISION_CODES);
const RESULTS = byCode<UpdateResultStatus>(UPDATE_RESULT_CODES);
const OTA_TYPE_BY_CODE = byCode<OtaFrame['type']>(OTA_FRAME_TYPE_CODES);

/** True when `code` is one of the update frame types of section 14 [FP-14.2]. */
export function isOtaCode(code: number): boolean {
  return OTA_TYPE_BY_CODE[code] !== undefined;
}

/** The update frame of type `code` read from `r` (the header already read); throws only ProtocolError. */
export function decodeOtaFrame(code: number, r: Reader): OtaFrame {
  switch (OTA_TYPE_BY_CODE[code]) {
    case 'update_offer':
      return decodeOffer(r);
    case 'update_answer':
      return decodeAnswer(r);
    case 'update_chunk':
      return decodeChunk(r);
    case 'update_progress':
      return decodeProgress(r);
    case 'update_result':
      return decodeResult(r);
    default:
      throw new ProtocolError('PROTO_ERR_UNKNOWN_TYPE', `0x${code.toString(16)} is not an update frame [FP-14.2]`);
  }
}

/** Writes `frame` (header included) to `w`; checks every field first, throws only ProtocolError. */
export function encodeOtaFrame(w: Writer, frame: OtaFrame, header: (code: number) => void): void {
  switch (frame.type) {
    case 'update_offer':
      return encodeOffer(w, frame, header);
    case 'update_answer':
      return encodeAnswer(w, frame, header);
    case 'update_chunk':
      return encodeChunk(w, frame, header);
    case 'update_progress':
      return encodeProgress(w, frame, header);
    case 'update_result':
      return encodeResult(w, frame, header);
  }
}

// ---- checks shared by both directions -------------------------------------------------------------

function checkUpdateId(n: number): void {
  if (n < 1) throw badField('updateId 0: update ids start at 1 [FP-14.3]');
}

function checkSizeField(n: number, max: number, field: string): void {
  if (n < 1) throw badField(`${field} 0 [FP-14.3]`);
  if (n > max) throw new ProtocolError('PROTO_ERR_LIMIT', `${field} ${n}, over ${max} [FP-14.9]`);
}

function checkWindow(n: number, min: number): void {
  if (n > OTA_LIMITS.maxUpdateWindow) throw new ProtocolError('PROTO_ERR_LIMIT', `window ${n}, over ${OTA_LIMITS.maxUpdateWindow} [FP-14.9]`);
  if (n < min) throw badField(`window ${n} on an accept: at least 1 [FP-14.4]`);
}

/** accept carries offset and window; defer a retry time and reason; refuse a reason; the rest is 0 or '' [FP-14.4]. */
function checkAnswer(f: Omit<UpdateAnswerFrame, 'type'>): void {
  if (!REASON_PATTERN.test(f.reason)) throw badField(`reason ${JSON.stringify(f.reason)} is not [a-z][a-z0-9_]* [FP-14.4]`);
  if (f.decision === 'accept') {
    checkWindow(f.window, 1);
    if (f.retryAfterS !== 0 || f.reason !== '') throw badField('an accept carries no retryAfterS or reason [FP-14.4]');
    return;
  }
  if (f.offset !== 0 || f.window !== 0) throw badField(`a ${f.decision} carries offset 0 and window 0 [FP-14.4]`);
  if (f.decision === 'refuse' && f.retryAfterS !== 0) throw badField('a refuse carries retryAfterS 0 [FP-14.4]');
}

// ---- decode ---------------------------------------------------------------------------------------

function decodeOffer(r: Reader): UpdateOfferFrame {
  const updateId = r.varint();
  checkUpdateId(updateId);
  const version = r.string(OTA_LIMITS.maxVersionBytes, 'version');
  if (version === '') throw badField('empty version [FP-14.3]');
  const size = r.varint();
  checkSizeField(size, OTA_LIMITS.maxImageBytes, 'size');
  // A fixed-width field: input ending inside it is truncated, not an overrun [FP-4.3].
  if (r.remaining < SHA256_BYTES) throw new ProtocolError('PROTO_ERR_TRUNCATED', `input ends inside the 32-byte sha256 [FP-4.3]`);
  const hash = r.bytesOf(SHA256_BYTES);
  const chunkSize = r.varint();
  checkSizeField(chunkSize, OTA_LIMITS.maxChunkBytes, 'chunkSize');
  r.expectEnd();
  let sha256 = '';
  for (const b of hash) sha256 += HEX[b]!;
  return { type: 'update_offer', updateId, version, size, sha256, chunkSize };
}

function decodeAnswer(r: Reader): UpdateAnswerFrame {
  const updateId = r.varint();
  checkUpdateId(updateId);
  const code = r.u8();
  const decision = DECISIONS[code];
  if (decision === undefined) throw badField(`unknown update decision ${code} [FP-14.4]`);
  const offset = r.varint();
  const window = r.u8();
  const retryAfterS = r.varint();
  const reason = r.string(OTA_LIMITS.maxReasonBytes, 'reason');
  r.expectEnd();
  const frame: UpdateAnswerFrame = { type: 'update_answer', updateId, decision, offset, window, retryAfterS, reason };
  checkAnswer(frame);
  return frame;
}

function decodeChunk(r: Reader): UpdateChunkFrame {
  const updateId = r.varint();
  checkUpdateId(updateId);
  const offset = r.varint();
  // Little-endian u32 [FP-1.1]; multiplication keeps it unsigned.
  const crc = r.u8() + r.u8() * 0x100 + r.u8() * 0x10000 + r.u8() * 0x1000000;
  const length = r.varint();
  checkSizeField(length, OTA_LIMITS.maxChunkBytes, 'chunk length');
  const data = r.bytesOf(length);
  r.expectEnd();
  return { type: 'update_chunk', updateId, offset, crc32: crc, data };
}

function decodeProgress(r: Reader): UpdateProgressFrame {
  const updateId = r.varint();
  checkUpdateId(updateId);
  const offset = r.varint();
  const window = r.u8();
  checkWindow(window, 0);
  r.expectEnd();
  return { type: 'update_progress', updateId, offset, window };
}

function decodeResult(r: Reader): UpdateResultFrame {
  const updateId = r.varint();
  checkUpdateId(updateId);
  const code = r.u8();
  const status = RESULTS[code];
  if (status === undefined) throw badField(`unknown update result ${code} [FP-14.7]`);
  const offset = r.varint();
  const message = r.string(LIMITS.maxMessageBytes, 'message');
  r.expectEnd();
  return { type: 'update_result', updateId, status, offset, message };
}

// ---- encode ---------------------------------------------------------------------------------------

function encodeOffer(w: Writer, f: UpdateOfferFrame, header: (code: number) => void): void {
  checkUint(f.updateId, 'updateId', 1);
  checkString(f.version, OTA_LIMITS.maxVersionBytes, 'version');
  if (f.version === '') throw badField('empty version [FP-14.3]');
  checkUint(f.size, 'size');
  checkSizeField(f.size, OTA_LIMITS.maxImageBytes, 'size');
  if (typeof f.sha256 !== 'string' || !SHA256_HEX.test(f.sha256)) throw badField(`sha256 must be 64 lower-case hex digits, got ${show(f.sha256)} [FP-14.3]`);
  checkUint(f.chunkSize, 'chunkSize');
  checkSizeField(f.chunkSize, OTA_LIMITS.maxChunkBytes, 'chunkSize');
  header(OTA_FRAME_TYPE_CODES.update_offer);
  w.varint(f.updateId);
  w.string(f.version, OTA_LIMITS.maxVersionBytes, 'version');
  w.varint(f.size);
  for (let i = 0; i < 64; i += 2) w.u8(parseInt(f.sha256.slice(i, i + 2), 16));
  w.varint(f.chunkSize);
}

function encodeAnswer(w: Writer, f: UpdateAnswerFrame, header: (code: number) => void): void {
  checkUint(f.updateId, 'updateId', 1);
  if (typeof f.decision !== 'string' || !Object.hasOwn(UPDATE_DECISION_CODES, f.decision)) throw badField(`unknown update decision ${show(f.decision)} [FP-14.4]`);
  checkUint(f.offset, 'offset');
  checkUint(f.window, 'window');
  checkUint(f.retryAfterS, 'retryAfterS');
  checkString(f.reason, OTA_LIMITS.maxReasonBytes, 'reason');
  checkAnswer(f);
  header(OTA_FRAME_TYPE_CODES.update_answer);
  w.varint(f.updateId);
  w.u8(UPDATE_DECISION_CODES[f.decision]);
  w.varint(f.offset);
  w.u8(f.window);
  w.varint(f.retryAfterS);
  w.string(f.reason, OTA_LIMITS.maxReasonBytes, 'reason');
}

function encodeChunk(w: Writer, f: UpdateChunkFrame, header: (code: number) => void): void {
  checkUint(f.updateId, 'updateId', 1);
  checkUint(f.offset, 'offset');
  if (!Number.isInteger(f.crc32) || f.crc32 < 0 || f.crc32 > 0xffffffff) throw badField(`crc32 must be an unsigned 32-bit integer, got ${show(f.crc32)} [FP-14.5]`);
  if (!(f.data instanceof Uint8Array)) throw badField('chunk data must be a Uint8Array [FP-14.5]');
  checkSizeField(f.data.length, OTA_LIMITS.maxChunkBytes, 'chunk length');
  header(OTA_FRAME_TYPE_CODES.update_chunk);
  w.varint(f.updateId);
  w.varint(f.offset);
  const c = f.crc32;
  w.u8(c & 0xff);
  w.u8((c >>> 8) & 0xff);
  w.u8((c >>> 16) & 0xff);
  w.u8((c >>> 24) & 0xff);
  w.varint(f.data.length);
  w.bytes(f.data);
}

function encodeProgress(w: Writer, f: UpdateProgressFrame, header: (code: number) => void): void {
  checkUint(f.updateId, 'updateId', 1);
  checkUint(f.offset, 'offset');
  checkUint(f.window, 'window');
  checkWindow(f.window, 0);
  header(OTA_FRAME_TYPE_CODES.update_progress);
  w.varint(f.updateId);
  w.varint(f.offset);
  w.u8(f.window);
}

function encodeResult(w: Writer, f: UpdateResultFrame, header: (code: number) => void): void {
  checkUint(f.updateId, 'updateId', 1);
  if (typeof f.status !== 'string' || !Object.hasOwn(UPDATE_RESULT_CODES, f.status)) throw badField(`unknown update result ${show(f.status)} [FP-14.7]`);
  checkUint(f.offset, 'offset');
  checkString(f.message, LIMITS.maxMessageBytes, 'message');
  header(OTA_FRAME_TYPE_CODES.update_result);
  w.varint(f.updateId);
  w.u8(UPDATE_RESULT_CODES[f.status]);
  w.varint(f.offset);
  w.string(f.message, LIMITS.maxMessageBytes, 'message');
}
