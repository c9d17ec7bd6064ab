import type { Statement } from 'better-sqlite3';
import type { Db } from './database.js';
import { StoreError } from './errors.js';

/** Where one device's update stands (firmware-protocol.md section 14; docs/operations.md "Firmware updates"). */
export type UpdateState = 'queued' | 'transferring' | 'verifying' | 'done' | 'failed' | 'rolled_back';
/** States of an update that is not finished: a device has at most one. */
export const OPEN_UPDATE_STATES: readonly UpdateState[] = ['queued', 'transferring', 'verifying'];

export interface FirmwareImageRecord {
  sha256: string;
  model: string;
  version: string;
  size: number;
  addedAt: number;
}

export interface FirmwareUpdateRecord {
  id: number;
  deviceId: string;
  sha256: string;
  version: string;
  /** The firmware the device reported when the update was created. */
  fromVersion: string;
  size: number;
  state: UpdateState;
  /** The device's last confirmed offset [FP-14.5]. */
  offset: number;
  /** UPDATE_RESULT verified arrived [FP-14.7]. */
  verified: boolean;
  /** Transfers that went on from an offset above 0 [FP-14.6]. */
  resumes: number;
  /** Why it failed, was deferred or superseded; null for none. */
  reason: string | null;
  /** A deferred update is not offered before this time (ms since the epoch). */
  retryAt: number | null;
  createdAt: number;
  updatedAt: number;
}

/** A firmware_updates row as SQLite (verified 0/1) and PostgreSQL (boolean) return it. */
export interface UpdateRow {
  id: number;
  device_id: string;
  sha256: string;
  version: string;
  from_version: string;
  size: number;
  state: UpdateState;
  offset: number;
  verified: number | boolean;
  resumes: number;
  reason: string | null;
  retry_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface ImageRow {
  sha256: string;
  model: string;
  version: string;
  size: number;
  added_at: number;
}

/** SQL: the update is open (one of OPEN_UPDATE_STATES). */
export const OPEN = `state IN ('queued', 'transferring', 'verifying')`;

/** A firmware_updates row as a record. */
export function toUpdate(r: UpdateRow): FirmwareUpdateRecord {
  return {
    id: r.id, deviceId: r.device_id, sha256: r.sha256, version: r.version, fromVersion: r.from_version, size: r.size, state: r.state,
    offset: r.offset, verified: r.verified === true || r.verified === 1, resumes: r.resumes, reason: r.reason, retryAt: r.retry_at, createdAt: r.created_at, updatedAt: r.updated_at,
  };
}

/** A firmware_images row as a record. */
export function toImage(r: ImageRow): FirmwareImageRecord {
  return { sha256: r.sha256, model: r.model, version: r.version, size: r.size, addedAt: r.added_at };
}

/** Firmware images (the catalogue; bytes are files) and update state. Built by HubStore.open() after migration. */
export class FirmwareTable {
  readonly #db: Db;
  readonly #addImage: Statement<[string, string, string, number, number]>;
  readonly #image: Statement<[string], ImageRow>;
  readonly #imageByVersion: Statement<[string, string], ImageRow>;
  readonly #images: Statement<[], ImageRow>;
  readonly #insert: Statement<[string, string, string, string, number, number, number], { id: number }>;
  readonly #supersede: Statement<[number, string]>;
  readonly #save: Statement<[string, number, number, number, string | null, number | null, number, number]>;
  readonly #get: Statement<[number], UpdateRow>;
  readonly #open: Statement<[string], UpdateRow>;
  readonly #allOpen: Statement<[], UpdateRow>;
  readonly #recent: Statement<[number], UpdateRow>;
  readonly #ofDevice: Statement<[string, number], UpdateRow>;

  constructor(db: Db) {
    this.#db = db;
    this.#addImage = db.prepare('INSERT INTO firmware_images (sha256, model, version, size, added_at) VALUES (?, ?, ?, ?, ?)');
    this.#image = db.prepare('SELECT * FROM firmware_images WHERE sha256 = ?');
    this.#imageByVersion = db.prepare('SELECT * FROM firmware_images WHERE model = ? AND version = ?');
    this.#images = db.prepare('SELECT * FROM firmware_images ORDER BY model, added_at, version');
    this.#insert = db.prepare(
      `INSERT INTO firmware_updates (device_id, sha256, version, from_version, size, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?)
       RETURNING id`,
    );
    this.#supersede = db.prepare(`UPDATE firmware_updates SET state = 'failed', reason = 'superseded', updated_at = ? WHERE device_id = ? AND ${OPEN}`);
    this.#save = db.prepare('UPDATE firmware_updates SET state = ?, offset = ?, verified = ?, resumes = ?, reason = ?, retry_at = ?, updated_at = ? WHERE id = ?');
    this.#get = db.prepare('SELECT * FROM firmware_updates WHERE id = ?');
    this.#open = db.prepare(`SELECT * FROM firmware_updates WHERE device_id = ? AND ${OPEN}`);
    this.#allOpen = db.prepare(`SELECT * FROM firmware_updates WHERE ${OPEN} ORDER BY id`);
    this.#recent = db.prepare('SELECT * FROM firmware_updates ORDER BY id DESC LIMIT ?');
    this.#ofDevice = db.prepare('SELECT * FROM firmware_updates WHERE device_id = ? ORDER BY id DESC LIMIT ?');
  }

  /** Adds an image; the same bytes again under the same name is a no-op. Throws HUB_ERR_FIRMWARE_EXISTS when the
   * model and version name other bytes, or these bytes have another name. */
  addImage(img: FirmwareImageRecord): FirmwareImageRecord {
    const same = this.#image.get(img.sha256);
    if (same) {
      if (same.model === img.model && same.version === img.version) return toImage(same);
      throw new StoreError('HUB_ERR_FIRMWARE_EXISTS', `this image is already stored as ${same.model} ${same.version}`);
    }
    if (this.#imageByVersion.get(img.model, img.version)) {
      throw new StoreError('HUB_ERR_FIRMWARE_EXISTS', `${img.model} ${img.version} is already stored with other bytes`);
    }
    this.#addImage.run(img.sha256, img.model, img.version, img.size, img.addedAt);
    return { ...img };
  }

  image(sha256: string): FirmwareImageRecord | undefined {
    const r = this.#image.get(sha256);
    return r && toImage(r);
  }

  imageByVersion(model: string, version: string): FirmwareImageRecord | undefined {
    const r = this.#imageByVersion.get(model, version);
    return r && toImage(r);
  }

  /** Every image, by model, oldest first. */
  images(): FirmwareImageRecord[] {
    return this.#images.all().map(toImage);
  }

  /** Queues an update of `deviceId` to `image`, ending (failed: superseded) the device's unfinished one; returns its id. */
  createUpdate(deviceId: string, image: FirmwareImageRecord, fromVersion: string, now: number): number {
    return this.#db.transaction(() => {
      this.#supersede.run(now, deviceId);
      return this.#insert.get(deviceId, image.sha256, image.version, fromVersion, image.size, now, now)!.id;
    }).immediate();
  }

  /** Writes the mutable fields of `u` (state, offset, verified, resumes, reason, retryAt) with updatedAt = now. */
  save(u: FirmwareUpdateRecord, now: number): void {
    u.updatedAt = now;
    this.#save.run(u.state, u.offset, u.verified ? 1 : 0, u.resumes, u.reason, u.retryAt, now, u.id);
  }

  update(id: number): FirmwareUpdateRecord | undefined {
    const r = this.#get.get(id);
    return r && toUpdate(r);
  }

  /** The device's unfinished update, if any. */
  openUpdate(deviceId: string): FirmwareUpdateRecord | undefined {
    const r = this.#open.get(deviceId);
    return r && toUpdate(r);
  }

  /** Every unfinished update, oldest first. */
  openUpdates(): FirmwareUpdateRecord[] {
    return this.#allOpen.all().map(toUpdate);
  }

  /** The newest updates (of one device when given), newest first. */
  updates(limit: number, deviceId?: string): FirmwareUpdateRecord[] {
    return (deviceId === undefined ? this.#recent.all(limit) : this.#ofDevice.all(deviceId, limit)).map(toUpdate);
  }
}
