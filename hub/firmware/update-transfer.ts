import type { UpdateChunkFrame, UpdateOfferFrame } from '../../protocol/ota-types.js';
import type { Frame } from '../../protocol/types.js';
import type { FirmwareUpdateRecord } from '../storage/firmware-table.js';
import type { LoadedImage } from './firmware-images.js';

/** What a transfer needs of a device session: its id and a way to send it frames. */
export interface UpdateSession {
  readonly deviceId: string;
  send(frame: Frame): void;
}

/**
 * One update on one live connection (firmware-protocol.md section 14): the offer, then chunks in order under
 * the device's window [FP-14.5], with the offsets it confirmed checked against what was sent [FP-14.8].
 */
export class UpdateTransfer {
  readonly record: FirmwareUpdateRecord;
  readonly session: UpdateSession;
  readonly #image: LoadedImage;
  readonly #chunkSize: number;
  readonly #crcs: readonly number[];
  /** offered: waiting for the answer; sending: chunks flow; verifying: every byte confirmed, waiting for the result. */
  phase: 'offered' | 'sending' | 'verifying' = 'offered';
  #confirmed = 0;
  #window = 0;
  /** Next offset to send: every chunk below it went out on this connection. */
  #sent = 0;

  constructor(record: FirmwareUpdateRecord, session: UpdateSession, image: LoadedImage, chunkSize: number) {
    this.record = record;
    this.session = session;
    this.#image = image;
    this.#chunkSize = chunkSize;
    this.#crcs = image.crcs(chunkSize);
  }

  /** The UPDATE_OFFER of this update [FP-14.3]. */
  offer(): UpdateOfferFrame {
    const r = this.record;
    return { type: 'update_offer', updateId: r.id, version: r.version, size: r.size, sha256: r.sha256, chunkSize: this.#chunkSize };
  }

  /** A confirmed offset the device may give: on a chunk boundary or the size, within the image [FP-14.6]. */
  #offsetProblem(offset: number): string | null {
    if (offset > this.record.size) return `offset ${offset} is beyond the ${this.record.size}-byte image`;
    if (offset % this.#chunkSize !== 0 && offset !== this.record.size) return `offset ${offset} is not a multiple of the chunk size ${this.#chunkSize}`;
    return null;
  }

  /** The accept: the transfer starts at `offset`; a problem string for a violation [FP-14.8]. */
  accept(offset: number, window: number): string | null {
    const problem = this.#offsetProblem(offset);
    if (problem) return problem;
    this.#confirmed = this.#sent = offset;
    this.#window = window;
    this.phase = offset === this.record.size ? 'verifying' : 'sending';
    return null;
  }

  /** An UPDATE_PROGRESS; a problem string for a violation [FP-14.8]. */
  progress(offset: number, window: number): string | null {
    const problem = this.#offsetProblem(offset);
    if (problem) return problem;
    if (offset < this.#confirmed) return `offset ${offset} is below the confirmed ${this.#confirmed}`;
    if (offset > this.#sent) return `offset ${offset} confirms bytes not sent (sent up to ${this.#sent})`;
    this.#confirmed = offset;
    this.#window = window;
    if (offset === this.record.size) this.phase = 'verifying';
    return null;
  }

  get confirmed(): number {
    return this.#confirmed;
  }

  /** True when the window lets another chunk go [FP-14.5]. */
  get canSend(): boolean {
    return this.phase === 'sending' && this.#sent < this.record.size && this.#sent < this.#confirmed + this.#window * this.#chunkSize;
  }

  /** The next chunk, advancing what was sent; only when canSend. */
  nextChunk(): UpdateChunkFrame {
    const offset = this.#sent;
    const end = Math.min(offset + this.#chunkSize, this.record.size);
    this.#sent = end;
    const data = this.#image.bytes.subarray(offset, end);
    return { type: 'update_chunk', updateId: this.record.id, offset, crc32: this.#crcs[offset / this.#chunkSize]!, data };
  }
}
