// The device side of firmware updates (firmware-protocol.md section 14): answers offers, takes chunks
// under its window, checks each CRC-32 and the image's SHA-256, and "reboots" into the new version.
// Behaviour only: SimDevice owns the connection and hands it the update frames.
import { createHash } from 'node:crypto';
import { crc32 } from '../protocol/index.js';
import type { Frame, UpdateChunkFrame, UpdateOfferFrame, UpdateResultStatus } from '../protocol/index.js';
import { TypedEmitter } from '../protocol/typed-emitter.js';
import type { OtaFaults } from './ota-faults.js';

const DEFAULT_WINDOW = 4;
const DEFER_SECONDS = 60;

/** What the client needs of its device: the open connection, if any. */
export interface OtaLink {
  send(frame: Frame): void;
  /** Drops the connection without a close frame (a fault). */
  drop(): void;
  /** Closes with 1001 and reconnects: the reboot into the new image [FP-14.7]. */
  reboot(): void;
}

export interface OtaClientEvents {
  offer: UpdateOfferFrame;
  /** An accept, with the offset the transfer starts from (> 0: a resume) [FP-14.6]. */
  accepted: { updateId: number; offset: number };
  progress: { updateId: number; offset: number; size: number };
  result: { updateId: number; status: UpdateResultStatus };
  /** Back after the reboot: the version HELLO now reports. */
  rebooted: { firmware: string; rolledBack: boolean };
}

interface Held {
  updateId: number;
  sha256: string;
  version: string;
  size: number;
  chunkSize: number;
  bytes: Uint8Array;
  /** Every byte below it is stored ("flash"): it survives disconnections [FP-14.6]. */
  confirmed: number;
}

/** A simulated device's update agent. Holds its image bytes across reconnections, as flash would. */
export class OtaClient extends TypedEmitter<OtaClientEvents> {
  /** The installed version, reported in HELLO [FP-14.1]. */
  firmware: string;
  readonly stats = { offers: 0, acceptedAt: [] as number[], chunks: 0, bytesReceived: 0, results: [] as UpdateResultStatus[] };
  readonly #faults: OtaFaults;
  readonly #link: OtaLink;
  #held: Held | null = null;
  #expected = -1;
  #defers = 0;
  #disconnects: number[];
  #corruptDone = false;
  #reboot: { version: string } | null = null;

  constructor(firmware: string, faults: OtaFaults, link: OtaLink) {
    super();
    this.firmware = firmware;
    this.#faults = faults;
    this.#link = link;
    this.#disconnects = [...(faults.disconnectAt ?? [])].sort((a, b) => a - b);
  }

  /** Handles an update frame from the hub. */
  onFrame(frame: Frame): void {
    if (frame.type === 'update_offer') this.#onOffer(frame);
    else if (frame.type === 'update_chunk') this.#onChunk(frame);
  }

  /** The connection is opening: a pending reboot happens now (the HELLO about to go reports its result). */
  beforeHello(): void {
    if (this.#reboot === null) return;
    const rolledBack = this.#faults.rollback === true;
    if (!rolledBack) this.firmware = this.#reboot.version;
    this.#reboot = null;
    this.#held = null;
    this.emit('rebooted', { firmware: this.firmware, rolledBack });
  }

  /** The connection ended: chunks in flight are lost, stored bytes are kept. */
  onClose(): void {
    this.#expected = -1;
  }

  #onOffer(offer: UpdateOfferFrame): void {
    this.stats.offers++;
    this.emit('offer', offer);
    const answer = { type: 'update_answer' as const, updateId: offer.updateId, offset: 0, window: 0, retryAfterS: 0, reason: '' };
    if (this.#faults.refuse !== undefined) return this.#link.send({ ...answer, decision: 'refuse', reason: this.#faults.refuse });
    if (this.#defers < (this.#faults.defer ?? 0)) {
      this.#defers++;
      return this.#link.send({ ...answer, decision: 'defer', retryAfterS: this.#faults.deferSeconds ?? DEFER_SECONDS, reason: 'battery_low' });
    }
    const held = this.#held;
    let offset = 0;
    if (held !== null && held.sha256 === offer.sha256 && held.size === offer.size) {
      // Resume from what is stored, on a chunk boundary of this offer [FP-14.6].
      offset = held.confirmed === held.size ? held.size : Math.floor(held.confirmed / offer.chunkSize) * offer.chunkSize;
      held.updateId = offer.updateId;
      held.chunkSize = offer.chunkSize;
      held.confirmed = offset;
    } else {
      this.#held = { updateId: offer.updateId, sha256: offer.sha256, version: offer.version, size: offer.size, chunkSize: offer.chunkSize, bytes: new Uint8Array(offer.size), confirmed: 0 };
    }
    this.#expected = offset;
    this.stats.acceptedAt.push(offset);
    this.emit('accepted', { updateId: offer.updateId, offset });
    this.#link.send({ ...answer, decision: 'accept', offset, window: this.#window() });
    if (offset === offer.size) this.#verify(this.#held!);
  }

  #onChunk(chunk: UpdateChunkFrame): void {
    const held = this.#held;
    // A chunk of another update, or one from before a reconnection, is ignored [FP-14.5].
    if (held === null || chunk.updateId !== held.updateId || chunk.offset !== this.#expected) return;
    this.stats.chunks++;
    this.stats.bytesReceived += chunk.data.length;
    let data = chunk.data;
    const end = chunk.offset + data.length;
    const corruptAt = this.#faults.corruptAt;
    if (corruptAt !== undefined && !this.#corruptDone && Math.floor(corruptAt * held.size) < end) {
      this.#corruptDone = true;
      data = Uint8Array.from(data);
      data[0] = data[0]! ^ 0xff;
    }
    if (end > held.size || crc32(data) !== chunk.crc32) {
      // The image is dropped: the update failed [FP-14.5].
      this.#held = null;
      return this.#result(chunk.updateId, 'corrupt_chunk', chunk.offset, `crc32 of the chunk at ${chunk.offset} does not match`);
    }
    held.bytes.set(data, chunk.offset);
    if (this.#faults.badHash === true && chunk.offset === 0) held.bytes[0] = held.bytes[0]! ^ 0x01;
    held.confirmed = this.#expected = end;
    if (this.#disconnects.length > 0 && end >= this.#disconnects[0]! * held.size && end < held.size) {
      // Drop before confirming: the hub learns the true offset from the next accept [FP-14.6].
      this.#disconnects.shift();
      return this.#link.drop();
    }
    this.#link.send({ type: 'update_progress', updateId: held.updateId, offset: end, window: this.#window() });
    this.emit('progress', { updateId: held.updateId, offset: end, size: held.size });
    if (end === held.size) this.#verify(held);
  }

  #verify(held: Held): void {
    const digest = createHash('sha256').update(held.bytes).digest('hex');
    if (digest !== held.sha256) {
      this.#held = null;
      return this.#result(held.updateId, 'hash_mismatch', held.size, `sha256 ${digest.slice(0, 16)}... differs from the offer's`);
    }
    this.#result(held.updateId, 'verified', held.size, '');
    this.#reboot = { version: held.version };
    this.#link.reboot();
  }

  #result(updateId: number, status: UpdateResultStatus, offset: number, message: string): void {
    this.stats.results.push(status);
    this.#link.send({ type: 'update_result', updateId, status, offset, message });
    this.emit('result', { updateId, status });
  }

  #window(): number {
    return this.#faults.window ?? DEFAULT_WINDOW;
  }
}
