import { describe, expect, it } from '@jest/globals';
import { frameFromJson, frameToJson, fromHex, isDataFrame, sentByDevice, sentByHub, toHex, type FrameType } from './index.js';

describe('hex and the JSON form of frames', () => {
  it('toHex and fromHex are inverse; fromHex ignores whitespace and refuses odd or non-hex text', () => {
    const bytes = Uint8Array.from([0, 1, 0x7f, 0x80, 0xff]);
    expect(toHex(bytes, ' ')).toBe('00 01 7f 80 ff');
    expect(fromHex('00 01 7F\n80ff')).toEqual(bytes);
    expect(() => fromHex('abc')).toThrow(RangeError);
    expect(() => fromHex('zz')).toThrow(RangeError);
  });

  it('[FP-12] the JSON form writes extension payloads as hex and reads them back', () => {
    const frame = { type: 'extension' as const, code: 0x81, payload: Uint8Array.from([0xca, 0xfe]) };
    expect(frameToJson(frame)).toEqual({ type: 'extension', code: 0x81, payload: 'cafe' });
    expect(frameFromJson(frameToJson(frame))).toStrictEqual(frame);
  });
});

describe('frame kinds [FP-7.3][FP-8.1]', () => {
  it('[FP-8.1] TELEMETRY, BATCH and EVENT are the data frames', () => {
    expect(isDataFrame({ type: 'telemetry', seq: 1, ts: 0, readings: [] })).toBe(true);
    expect(isDataFrame({ type: 'batch', seq: 1, samples: [] })).toBe(true);
    expect(isDataFrame({ type: 'event', seq: 1, ts: 0, metric: 1, value: { type: 'bool', value: true } })).toBe(true);
    expect(isDataFrame({ type: 'ack', seq: 1 })).toBe(false);
  });

  it('[FP-7.3] WELCOME, ACK, COMMAND and ERROR come only from the hub; extensions from either side', () => {
    const hubOnly: FrameType[] = ['welcome', 'ack', 'command', 'error'];
    const deviceOnly: FrameType[] = ['hello', 'telemetry', 'batch', 'event', 'command_result'];
    for (const t of hubOnly) expect([sentByHub(t), sentByDevice(t)]).toEqual([true, false]);
    for (const t of deviceOnly) expect([sentByHub(t), sentByDevice(t)]).toEqual([false, true]);
    expect([sentByHub('extension'), sentByDevice('extension')]).toEqual([true, true]);
  });
});
