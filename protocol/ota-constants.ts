// Numbers and names of firmware updates, protocol 1.1 (firmware-protocol.md section 14). The document's
// tables and these must agree (protocol/ota-spec-sync.test.ts checks it).

/** Wire codes of the update frames, in the extension range so that a 1.0 receiver ignores them [FP-14.2]. */
export const OTA_FRAME_TYPE_CODES = {
  update_offer: 0x90,
  update_answer: 0x91,
  update_chunk: 0x92,
  update_progress: 0x93,
  update_result: 0x94,
} as const;

/** HELLO header flag bit 1: the device accepts firmware updates (protocol 1.1) [FP-14.1]. */
export const FLAG_UPDATES = 0x02;

/** A device's answer to UPDATE_OFFER [FP-14.4]. */
export const UPDATE_DECISION_CODES = {
  accept: 0,
  defer: 1,
  refuse: 2,
} as const;

/** How an update ended on the device [FP-14.7]. */
export const UPDATE_RESULT_CODES = {
  verified: 0,
  hash_mismatch: 1,
  corrupt_chunk: 2,
  write_failed: 3,
  aborted: 4,
} as const;

/** Limits of the update frames [FP-14.9]. */
export const OTA_LIMITS = {
  maxImageBytes: 4294967295,
  maxChunkBytes: 32768,
  maxUpdateWindow: 64,
  maxReasonBytes: 32,
  maxVersionBytes: 32,
} as const;

/** An answer's reason: a short machine-readable word ('busy', 'battery_low') or '' [FP-14.4]. */
export const REASON_PATTERN = /^(?:[a-z][a-z0-9_]*)?$/;
