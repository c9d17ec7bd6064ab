import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from '../../protocol/crc32.js';
import { OTA_LIMITS } from '../../protocol/ota-constants.js';
import type { FirmwareImageRecord } from '../storage/firmware-table.js';
import { andThen, isThenable } from '../storage/maybe-promise.js';
import type { FirmwareStoreContract, ImageBytesContract, MaybePromise } from '../storage/store-contract.js';
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
 * Image bytes as files beside SQLite: `<dataDir>/firmware/<sha256>.bin`, written to a temporary file and
 * renamed, so a crash leaves no half image under the name.
 */
export class FileImageBytes implements ImageBytesContract {
  readonly #dir: string;

  constructor(dataDir: string) {
    this.#dir = join(dataDir, 'firmware');
  }

  put(sha256: string, bytes: Uint8Array): void {
    const path = this.#path(sha256);
    if (existsSync(path)) return;
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, bytes, { mode: 0o600, flush: true });
    renameSync(tmp, path);
  }

  /** The file's bytes; the caller checks their size against the catalogue. */
  get(sha256: string): Uint8Array | undefined {
    const path = this.#path(sha256);
    return existsSync(path) ? new Uint8Array(readFileSync(path)) : undefined;
  }

  #path(sha256: string): string {
    return join(this.#dir, `${sha256}.bin`);
  }
}

/** HUB_ERR_FIRMWARE_EXISTS of the store as a FirmwareError; any other error as it is. */
function asFirmwareError(err: unknown): never {
  if ((err as { code?: string }).code === 'HUB_ERR_FIRMWARE_EXISTS') throw new FirmwareError('HUB_ERR_FIRMWARE_EXISTS', (err as Error).message.replace(/^HUB_ERR_FIRMWARE_EXISTS: /, ''));
  throw err;
}

/**
 * Firmware images, durable and content-addressed: the bytes where `bytes` keeps them (files for SQLite, the
 * database for PostgreSQL), stored before the catalogue row, so a catalogued image always has its bytes.
 * Answers at once on SQLite, in Promises on PostgreSQL.
 */
export class FirmwareImages {
  readonly #bytes: ImageBytesContract;
  readonly #table: () => FirmwareStoreContract;
  readonly #loaded = new Map<string, LoadedImage>();

  constructor(bytes: ImageBytesContract, table: () => FirmwareStoreContract) {
    this.#bytes = bytes;
    this.#table = table;
  }

  /** Stores `bytes` as `model` `version`; the same image again is a no-op. Throws FirmwareError on a bad name or size, or a clash. */
  add(bytes: Uint8Array, model: string, version: string, now: number): MaybePromise<FirmwareImageRecord> {
    if (model.length < 1 || model.length > MODEL_MAX) throw new FirmwareError('HUB_ERR_BAD_REQUEST', `model must be 1-${MODEL_MAX} characters`);
    if (version.length < 1 || new TextEncoder().encode(version).length > OTA_LIMITS.maxVersionBytes) {
      throw new FirmwareError('HUB_ERR_BAD_REQUEST', `version must be 1-${OTA_LIMITS.maxVersionBytes} bytes of UTF-8`);
    }
    if (bytes.length < 1 || bytes.length > OTA_LIMITS.maxImageBytes) throw new FirmwareError('HUB_ERR_BAD_REQUEST', `an image is 1 to ${OTA_LIMITS.maxImageBytes} bytes, got ${bytes.length}`);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    return andThen(this.#bytes.put(sha256, bytes), () => {
      let added: MaybePromise<FirmwareImageRecord>;
      try {
        added = this.#table().addImage({ sha256, model, version, size: bytes.length, addedAt: now });
      } catch (err) {
        asFirmwareError(err);
      }
      return isThenable(added) ? added.catch(asFirmwareError) : added;
    });
  }

  /** The image with this SHA-256, read once and kept in memory; undefined when its row or bytes are missing. */
  load(sha256: string): MaybePromise<LoadedImage | undefined> {
    const hit = this.#loaded.get(sha256);
    if (hit) return hit;
    return andThen(this.#table().image(sha256), (record) => {
      if (!record) return undefined;
      return andThen(this.#bytes.get(sha256), (bytes) => {
        if (!bytes || bytes.length !== record.size) return undefined;
        const image = this.#loaded.get(sha256) ?? loadedImage(record, bytes);
        this.#loaded.set(sha256, image);
        return image;
      });
    });
  }
}

function loadedImage(record: FirmwareImageRecord, bytes: Uint8Array): LoadedImage {
  const byChunkSize = new Map<number, number[]>();
  return {
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
}
