// Table-driven: every vector of protocol/vectors.json becomes decode, encode and round-trip cases;
// every error vector asserts its code and close code together [FP-12.1].
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  decode,
  encode,
  FRAME_TYPE_CODES,
  OTA_FRAME_TYPE_CODES,
  frameFromJson,
  fromHex,
  PROTOCOL_ERROR_CODES,
  ProtocolError,
  toHex,
  type FrameType,
  type JsonFrame,
  type ProtocolErrorCode,
} from './index.js';

interface FrameVector {
  name: string;
  hex: string;
  frame: JsonFrame;
}
interface ErrorVector {
  name: string;
  hex: string;
  code: ProtocolErrorCode;
  closeCode: number;
}
interface VectorFile {
  valid: FrameVector[];
  decodeOnly: FrameVector[];
  errors: ErrorVector[];
}

const here = fileURLToPath(new URL('.', import.meta.url));
const vectors = JSON.parse(readFileSync(`${here}vectors.json`, 'utf8')) as VectorFile;

/** The requirement each frame type's layout is specified by. */
const FRAME_FP: Record<FrameType, string> = {
  hello: 'FP-6.1',
  welcome: 'FP-6.2',
  telemetry: 'FP-6.3',
  batch: 'FP-6.4',
  ack: 'FP-6.5',
  command: 'FP-6.6',
  command_result: 'FP-6.7',
  event: 'FP-6.8',
  error: 'FP-6.9',
  extension: 'FP-10.2',
  update_offer: 'FP-14.3',
  update_answer: 'FP-14.4',
  update_chunk: 'FP-14.5',
  update_progress: 'FP-14.5',
  update_result: 'FP-14.7',
};

/** Where each error is specified (all of them also in the table of [FP-11.2]). */
const ERROR_FP: Record<ProtocolErrorCode, string> = {
  PROTO_ERR_TRUNCATED: 'FP-4.3',
  PROTO_ERR_LENGTH_OVERRUN: 'FP-4.4',
  PROTO_ERR_TRAILING_BYTES: 'FP-3.4',
  PROTO_ERR_BAD_VERSION: 'FP-3.1',
  PROTO_ERR_UNKNOWN_TYPE: 'FP-3.2',
  PROTO_ERR_VARINT: 'FP-4.1',
  PROTO_ERR_BAD_VALUE_TAG: 'FP-5.2',
  PROTO_ERR_BAD_FLOAT: 'FP-5.4',
  PROTO_ERR_BAD_UTF8: 'FP-4.2',
  PROTO_ERR_BAD_FIELD: 'FP-6',
  PROTO_ERR_LIMIT: 'FP-9.1',
};
const TYPE_BY_CODE = new Map(Object.entries({ ...FRAME_TYPE_CODES, ...OTA_FRAME_TYPE_CODES }).map(([type, code]) => [code as number, type as FrameType]));

/** The requirement an error vector breaks: its frame type's for field and limit errors, else its code's. */
function errorFp(v: ErrorVector): string {
  const type = TYPE_BY_CODE.get(fromHex(v.hex)[1] ?? -1);
  if (type && v.code === 'PROTO_ERR_BAD_FIELD') return FRAME_FP[type];
  if (type && v.code === 'PROTO_ERR_LIMIT') return `${FRAME_FP[type]}][${ERROR_FP[v.code]}`;
  return ERROR_FP[v.code];
}

/** The ProtocolError `fn` throws, as { code, closeCode } so that both are compared in one assertion. */
function thrownBy(fn: () => unknown): { code: string; closeCode: number } | string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ProtocolError) return { code: err.code, closeCode: err.closeCode };
    return `not a ProtocolError: ${String(err)}`;
  }
  return 'nothing thrown';
}

/** The one helper: valid -> decode, encode, round trip; decode-only -> decode, re-encode differs; error -> code + close code. */
function vectorCases(file: VectorFile): void {
  describe('valid vectors', () => {
    for (const v of file.valid) {
      const fp = FRAME_FP[v.frame.type];
      const bytes = fromHex(v.hex);
      const frame = frameFromJson(v.frame);
      it(`[${fp}] ${v.name}: decode gives the frame`, () => {
        expect(decode(bytes)).toStrictEqual(frame);
      });
      it(`[${fp}] ${v.name}: encode gives the bytes`, () => {
        expect(toHex(encode(frame), ' ')).toBe(v.hex);
      });
      it(`[${fp}] ${v.name}: decode(encode(frame)) is the frame and encode(decode(bytes)) the bytes`, () => {
        expect(decode(encode(frame))).toStrictEqual(frame);
        expect(toHex(encode(decode(bytes)), ' ')).toBe(v.hex);
      });
    }
  });

  describe('decode-only vectors', () => {
    for (const v of file.decodeOnly) {
      const fp = FRAME_FP[v.frame.type];
      const bytes = fromHex(v.hex);
      const frame = frameFromJson(v.frame);
      it(`[${fp}] ${v.name}: decode gives the frame, encode the canonical (different) bytes`, () => {
        expect(decode(bytes)).toStrictEqual(frame);
        const canonical = encode(frame);
        expect(toHex(canonical, ' ')).not.toBe(v.hex);
        expect(decode(canonical)).toStrictEqual(frame);
      });
    }
  });

  describe('error vectors', () => {
    for (const v of file.errors) {
      it(`[${errorFp(v)}][FP-11.2] ${v.name}: ${v.code} with close ${v.closeCode}`, () => {
        expect(thrownBy(() => decode(fromHex(v.hex)))).toEqual({ code: v.code, closeCode: v.closeCode });
      });
    }
  });
}

vectorCases(vectors);

describe('the vector file itself', () => {
  it('[FP-12.1] names are unique and every error close code is the one constants.ts gives its code', () => {
    const names = [...vectors.valid, ...vectors.decodeOnly, ...vectors.errors].map((v) => v.name);
    expect(new Set(names).size).toBe(names.length);
    for (const v of vectors.errors) expect(v.closeCode).toBe(PROTOCOL_ERROR_CODES[v.code]);
  });

  it('[FP-12.1] covers every frame type and every protocol error code', () => {
    const types = new Set(vectors.valid.map((v) => v.frame.type));
    expect([...types].sort()).toEqual(Object.keys(FRAME_FP).sort());
    const codes = new Set(vectors.errors.map((v) => v.code));
    expect([...codes].sort()).toEqual(Object.keys(PROTOCOL_ERROR_CODES).sort());
  });
});
