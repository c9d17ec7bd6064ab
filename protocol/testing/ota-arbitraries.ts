// fast-check arbitraries of the update frames [FP-14], each field over its whole valid range; used by
// protocol/properties.test.ts next to those of the version 1.0 frames.
import fc from 'fast-check';
import { OTA_LIMITS } from '../ota-constants.js';
import type { UpdateDecision, UpdateResultStatus } from '../ota-types.js';
import type { Frame } from '../types.js';

const ids = (uint: (min?: number) => fc.Arbitrary<number>) => uint(1);
const reason = fc.oneof(fc.constant(''), fc.stringMatching(/^[a-z][a-z0-9_]{0,31}$/));
const size = (max: number) => fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max }), fc.constantFrom(1, max));

/** One arbitrary per update frame type; `uint` and `utf8String` are the 1.0 properties' own. */
export function otaFrameArbs(
  uint: (min?: number) => fc.Arbitrary<number>,
  utf8String: (maxBytes: number) => fc.Arbitrary<string>,
): Record<'update_offer' | 'update_answer' | 'update_chunk' | 'update_progress' | 'update_result', fc.Arbitrary<Frame>> {
  const window = fc.integer({ min: 0, max: OTA_LIMITS.maxUpdateWindow });
  return {
    update_offer: fc
      .tuple(ids(uint), utf8String(OTA_LIMITS.maxVersionBytes).filter((v) => v !== ''), size(OTA_LIMITS.maxImageBytes), fc.uint8Array({ minLength: 32, maxLength: 32 }), size(OTA_LIMITS.maxChunkBytes))
      .map(([updateId, version, bytes, hash, chunkSize]): Frame => ({
        type: 'update_offer',
        updateId,
        version,
        size: bytes,
        sha256: Array.from(hash, (b) => b.toString(16).padStart(2, '0')).join(''),
        chunkSize,
      })),
    update_answer: fc
      .tuple(ids(uint), fc.constantFrom<UpdateDecision>('accept', 'defer', 'refuse'), uint(), window.filter((w) => w > 0), uint(), reason)
      .map(([updateId, decision, offset, w, retryAfterS, why]): Frame => {
        if (decision === 'accept') return { type: 'update_answer', updateId, decision, offset, window: w, retryAfterS: 0, reason: '' };
        return { type: 'update_answer', updateId, decision, offset: 0, window: 0, retryAfterS: decision === 'defer' ? retryAfterS : 0, reason: why };
      }),
    update_chunk: fc
      .tuple(ids(uint), uint(), fc.integer({ min: 0, max: 0xffffffff }), fc.uint8Array({ minLength: 1, maxLength: 600 }))
      .map(([updateId, offset, crc32, data]): Frame => ({ type: 'update_chunk', updateId, offset, crc32, data })),
    update_progress: fc
      .tuple(ids(uint), uint(), window)
      .map(([updateId, offset, w]): Frame => ({ type: 'update_progress', updateId, offset, window: w })),
    update_result: fc
      .tuple(ids(uint), fc.constantFrom<UpdateResultStatus>('verified', 'hash_mismatch', 'corrupt_chunk', 'write_failed', 'aborted'), uint(), utf8String(255))
      .map(([updateId, status, offset, message]): Frame => ({ type: 'update_result', updateId, status, offset, message })),
  };
}
