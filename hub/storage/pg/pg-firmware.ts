import type pg from 'pg';
import { StoreError } from '../errors.js';
import { OPEN, toImage, toUpdate, type FirmwareImageRecord, type FirmwareUpdateRecord, type ImageRow, type UpdateRow } from '../firmware-table.js';
import type { FirmwareStoreContract } from '../store-contract.js';

/** Firmware images and update state on PostgreSQL: FirmwareTable's rules (hub/storage/firmware-table.ts) with Promises. */
export class PgFirmware implements FirmwareStoreContract {
  readonly #pool: () => pg.Pool;

  constructor(pool: () => pg.Pool) {
    this.#pool = pool;
  }

  async addImage(img: FirmwareImageRecord): Promise<FirmwareImageRecord> {
    const same = await this.image(img.sha256);
    if (same) {
      if (same.model === img.model && same.version === img.version) return same;
      throw new StoreError('HUB_ERR_FIRMWARE_EXISTS', `this image is already stored as ${same.model} ${same.version}`);
    }
    if (await this.imageByVersion(img.model, img.version)) {
      throw new StoreError('HUB_ERR_FIRMWARE_EXISTS', `${img.model} ${img.version} is already stored with other bytes`);
    }
    await this.#pool().query('INSERT INTO firmware_images (sha256, model, version, size, added_at) VALUES ($1, $2, $3, $4, $5)', [
      img.sha256, img.model, img.version, img.size, img.addedAt,
    ]);
    return { ...img };
  }

  async image(sha256: string): Promise<FirmwareImageRecord | undefined> {
    const { rows } = await this.#pool().query<ImageRow>('SELECT * FROM firmware_images WHERE sha256 = $1', [sha256]);
    return rows[0] && toImage(rows[0]);
  }

  async imageByVersion(model: string, version: string): Promise<FirmwareImageRecord | undefined> {
    const { rows } = await this.#pool().query<ImageRow>('SELECT * FROM firmware_images WHERE model = $1 AND version = $2', [model, version]);
    return rows[0] && toImage(rows[0]);
  }

  async images(): Promise<FirmwareImageRecord[]> {
    const { rows } = await this.#pool().query<ImageRow>('SELECT * FROM firmware_images ORDER BY model, added_at, version');
    return rows.map(toImage);
  }

  async createUpdate(deviceId: string, image: FirmwareImageRecord, fromVersion: string, now: number): Promise<number> {
    const client = await this.#pool().connect();
    try {
      await client.query('BEGIN');
      await client.query(`UPDATE firmware_updates SET state = 'failed', reason = 'superseded', updated_at = $1 WHERE device_id = $2 AND ${OPEN}`, [now, deviceId]);
      const { rows } = await client.query<{ id: number }>(
        `INSERT INTO firmware_updates (device_id, sha256, version, from_version, size, state, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 'queued', $6, $6) RETURNING id`,
        [deviceId, image.sha256, image.version, fromVersion, image.size, now],
      );
      await client.query('COMMIT');
      return rows[0]!.id;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /**
   * Saves an update that is still open; a finished one stays as it is: a hub that lost the device to another
   * hub saves its transfer when it notices the lost connection, maybe after the other hub finished the update.
   */
  async save(u: FirmwareUpdateRecord, now: number): Promise<void> {
    u.updatedAt = now;
    await this.#pool().query(
      `UPDATE firmware_updates SET state = $1, "offset" = $2, verified = $3, resumes = $4, reason = $5, retry_at = $6, updated_at = $7 WHERE id = $8 AND ${OPEN}`,
      [u.state, u.offset, u.verified, u.resumes, u.reason, u.retryAt, now, u.id],
    );
  }

  async update(id: number): Promise<FirmwareUpdateRecord | undefined> {
    const { rows } = await this.#pool().query<UpdateRow>('SELECT * FROM firmware_updates WHERE id = $1', [id]);
    return rows[0] && toUpdate(rows[0]);
  }

  async openUpdate(deviceId: string): Promise<FirmwareUpdateRecord | undefined> {
    const { rows } = await this.#pool().query<UpdateRow>(`SELECT * FROM firmware_updates WHERE device_id = $1 AND ${OPEN}`, [deviceId]);
    return rows[0] && toUpdate(rows[0]);
  }

  async openUpdates(): Promise<FirmwareUpdateRecord[]> {
    const { rows } = await this.#pool().query<UpdateRow>(`SELECT * FROM firmware_updates WHERE ${OPEN} ORDER BY id`);
    return rows.map(toUpdate);
  }

  async updates(limit: number, deviceId?: string): Promise<FirmwareUpdateRecord[]> {
    const { rows } =
      deviceId === undefined
        ? await this.#pool().query<UpdateRow>('SELECT * FROM firmware_updates ORDER BY id DESC LIMIT $1', [limit])
        : await this.#pool().query<UpdateRow>('SELECT * FROM firmware_updates WHERE device_id = $1 ORDER BY id DESC LIMIT $2', [deviceId, limit]);
    return rows.map(toUpdate);
  }
}
