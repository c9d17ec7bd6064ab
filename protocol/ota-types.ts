// The typed form of the firmware-update frames of protocol 1.1 (firmware-protocol.md section 14); members
// of the one Frame union of types.ts.

export type UpdateDecision = 'accept' | 'defer' | 'refuse';
export type UpdateResultStatus = 'verified' | 'hash_mismatch' | 'corrupt_chunk' | 'write_failed' | 'aborted';

/** Hub to device: an image the device may install [FP-14.3]. */
export interface UpdateOfferFrame {
  type: 'update_offer';
  /** The hub's id of this update (>= 1); every later update frame names it. */
  updateId: number;
  /** The firmware version the image installs; the device's HELLO reports it after the reboot. */
  version: string;
  /** Image size in bytes. */
  size: number;
  /** SHA-256 of the whole image, 64 lower-case hex digits (32 bytes on the wire). */
  sha256: string;
  /** Bytes per chunk; every chunk but the last has exactly this many. */
  chunkSize: number;
}

/** Device to hub: accept (from an offset, with a window), defer or refuse an offer [FP-14.4]. */
export interface UpdateAnswerFrame {
  type: 'update_answer';
  updateId: number;
  decision: UpdateDecision;
  /** accept: bytes of this image the device already holds (0, or where it resumes); else 0. */
  offset: number;
  /** accept: chunks the hub may send beyond `offset` (1..64); else 0. */
  window: number;
  /** defer: seconds after which the hub may offer again (0: the hub's choice); else 0. */
  retryAfterS: number;
  /** defer and refuse: why ('busy', 'battery_low', 'no_space' ...); '' for none. */
  reason: string;
}

/** Hub to device: image bytes [offset, offset + data.length) with their CRC-32 [FP-14.5]. */
export interface UpdateChunkFrame {
  type: 'update_chunk';
  updateId: number;
  offset: number;
  /** CRC-32 (zlib's) of `data`. */
  crc32: number;
  data: Uint8Array;
}

/** Device to hub: bytes received, checked and stored so far, and the window from there [FP-14.5]. */
export interface UpdateProgressFrame {
  type: 'update_progress';
  updateId: number;
  /** Confirmed offset: every byte below it is stored on the device. */
  offset: number;
  /** Chunks the hub may send beyond `offset` (0: pause). */
  window: number;
}

/** Device to hub: how the update ended on the device [FP-14.7]. */
export interface UpdateResultFrame {
  type: 'update_result';
  updateId: number;
  status: UpdateResultStatus;
  /** The offset the result is about: the size for verified, the bad chunk's for corrupt_chunk. */
  offset: number;
  /** Human-readable detail, '' for none. */
  message: string;
}

export type OtaFrame = UpdateOfferFrame | UpdateAnswerFrame | UpdateChunkFrame | UpdateProgressFrame | UpdateResultFrame;
