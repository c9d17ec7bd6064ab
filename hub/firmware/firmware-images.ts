import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from '../../protocol/crc32.js';
import { OTA_LIMITS } from '../../protocol/ota-constants.js';
import type { FirmwareImageRecord, FirmwareTable } from '../storage/firmware-table.js';
import { FirmwareError } from './firmware-error.js';

/** Models and versions as the database CHECKs take them; a version also fits UPDATE_OFFER [FP-14.3]. */
const MODEL_MAX = 64;

/** One image in memory with the CRC-32 of each chunk, computed once per chunk size [FP-14.5]. */
export interface LoadedImage {
  record: FirmwareImageRecord;
  bytes: Uint8Array;
  crcs(chunkSize: number): readonly number[];
}

/**
 * Firmware images, durable and content-addressed: the bytes in `<dataDir>/firmware/<sha256>.bin` (written to
 * a temporary file and renamed, so a crash leaves no half image under the name), the catalogue in the database.
 */
export class FirmwareImages {
  readonly #dir: string;
  readonly #table: () => FirmwareTable;
  readonly #loaded = new Map<string, LoadedImage>();

  constructor(dataDir: string, table: () => FirmwareTable) {
    this.#dir = join(dataDir, 'firmware');
    this.#table = table;
  }

  /** Stores `bytes` as `model` `version`; the same image again is a no-op. Throws FirmwareError on a bad name or size, or a clash. */
  add(bytes: Uint8Array, model: string, version: string, now: number): FirmwareImageRecord {
    if (model.length < 1 || model.length > MODEL_MAX) throw new FirmwareError('HUB_ERR_BAD_REQUEST', `model must be 1-${MODEL_MAX} characters`);
    if (version.length < 1 || new TextEncoder().encode(version).length > OTA_LIMITS.maxVersionBytes) {
      throw new FirmwareError('HUB_ERR_BAD_REQUEST', `version must be 1-${OTA_LIMITS.maxVersionBytes} bytes of UTF-8`);
    }
    if (bytes.length < 1 || bytes.length > OTA_LIMITS.maxImageBytes) throw new FirmwareError('HUB_ERR_BAD_REQUEST', `an image is 1 to ${OTA_LIMITS.maxImageBytes} bytes, got ${bytes.length}`);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const path = this.#path(sha256);
    if (!existsSync(path)) {
      mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
      const tmp = `${path}.${process.pid}.tmp`;
      writeFileSync(tmp, bytes, { mode: 0o600, flush: true });
      renameSync(tmp, path);
    }
    try {
      return this.#table().addImage({ sha256, model, version, size: bytes.length, addedAt: now });
    } catch (err) {
      if ((err as { code?: string }).code === 'HUB_ERR_FIRMWARE_EXISTS') throw new FirmwareError('HUB_ERR_FIRMWARE_EXISTS', (err as Error).message.replace(/^HUB_ERR_FIRMWARE_EXISTS: /, ''));
      throw err;
    }
  }

  /** The image with this SHA-256, read once and kept; undefined when its row or file is missing. */
  load(sha256: string): LoadedImage | undefined {
    const hit = this.#loaded.get(sha256);
    if (hit) return hit;
    const record = this.#table().image(sha256);
    const path = this.#path(sha256);
    if (!record || !existsSync(path)) return undefined;
    const bytes = new Uint8Array(readFileSync(path));
    if (bytes.length !== record.size) return undefined;
    const byChunkSize = new Map<number, number[]>();
    const image: LoadedImage = {
      record,
      bytes,
      crcs: (chunkSize) => {
        let list = byChunkSize.get(chunkSize);
        if (!list) {
          list = [];
          for (let at = 0; at < bytes.length; at += chunkSize) list.push(crc32(bytes.subarray(at, at + chunkSize)));
          byChunkSize.set(chunkSize, list);
        }
        return list;
      },
    };
    this.#loaded.set(sha256, image);
    return image;
  }

  #path(sha256: string): string {
    return join(this.#dir, `${sha256}.bin`);
  }
}
