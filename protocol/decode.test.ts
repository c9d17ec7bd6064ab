import { describe, expect, it } from '@jest/globals';
import { decode, encode, LIMITS, ProtocolError } from './index.js';
import { codeOf } from './test-support.js';

describe('decode', () => {
  it('[FP-3.4][FP-9] a frame of maxFrameBytes decodes; one byte more is PROTO_ERR_LIMIT with close 4007', () => {
    const max = new Uint8Array(LIMITS.maxFrameBytes);
    max.set([0x10, 0x80]);
    expect(decode(max)).toMatchObject({ type: 'extension', code: 0x80 });
    const over = new Uint8Array(LIMITS.maxFrameBytes + 1);
    over.set([0x10, 0x80]);
    let caught: unknown;
    try {
      decode(over);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ProtocolError);
    expect({ code: (caught as ProtocolError).code, closeCode: (caught as ProtocolError).closeCode }).toEqual({ code: 'PROTO_ERR_LIMIT', closeCode: 4007 });
  });

  it('[FP-6.4] a BATCH count is checked against the bytes left before anything is allocated for it', () => {
    // count 4096 (the limit) in a 6-byte frame: refused as an overrun, not read sample by sample.
    expect(codeOf(() => decode(Uint8Array.from([0x10, 0x04, 0x01, 0x80, 0x20, 0x00])))).toBe('PROTO_ERR_LENGTH_OVERRUN');
  });

  it('[FP-2.4] decodes a Node Buffer view at a non-zero offset, as ws delivers messages', () => {
    const frame = { type: 'ack' as const, seq: 300 };
    const pool = Buffer.concat([Buffer.from([0xde, 0xad]), Buffer.from(encode(frame))]);
    expect(decode(pool.subarray(2))).toEqual(frame);
  });

  it('[FP-10.2] an extension payload is a plain Uint8Array copy, not a view of the input', () => {
    const input = Buffer.from([0x10, 0xa0, 1, 2, 3]);
    const frame = decode(input);
    input[2] = 99;
    expect(frame).toStrictEqual({ type: 'extension', code: 0xa0, payload: Uint8Array.from([1, 2, 3]) });
  });

  it('[FP-3.3] reserved flag bits are ignored on every frame type', () => {
    const frames = [
      { type: 'ack', seq: 1 },
      { type: 'welcome', hubTime: 1, heartbeatMs: 2, nextSeq: 3, maxFrameBytes: 4, maxReadingsPerFrame: 5, maxBatchSamples: 6, maxFramesPerSecond: 7 },
      { type: 'event', seq: 1, ts: 2, metric: 3, value: { type: 'bool', value: true } },
    ] as const;
    for (const frame of frames) {
      const bytes = encode(frame);
      for (const reserved of [0x2, 0x4, 0x8, 0xe]) {
        bytes[0] = 0x10 | reserved;
        expect(decode(bytes)).toEqual(frame);
      }
    }
  });
});
