import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { ImageBytesContract } from '../store-contract.js';

/** Bytes per firmware_chunks row (migration 3): a 1 MiB image is 4 rows. */
export const FIRMWARE_CHUNK_BYTES = 256 * 1024;

/** Firmware image bytes in PostgreSQL's firmware_chunks, shared by every hub on the database. */
export class PgImageBytes implements ImageBytesContract {
  readonly #pool: () => pg.Pool;

  constructor(pool: () => pg.Pool) {
    this.#pool = pool;
  }

  /** All chunks in one transaction, so a reader sees the whole image or none of it; chunks already there stay. */
  async put(sha256: string, bytes: Uint8Array): Promise<void> {
    const client = await this.#pool().connect();
    try {
      await client.query('BEGIN');
      for (let idx = 0, at = 0; at < bytes.length; idx++, at += FIRMWARE_CHUNK_BYTES) {
        const data = Buffer.from(bytes.buffer, bytes.byteOffset + at, Math.min(FIRMWARE_CHUNK_BYTES, bytes.length - at));
        await client.query('INSERT INTO firmware_chunks (sha256, idx, data) VALUES ($1, $2, $3) ON CONFLICT (sha256, idx) DO NOTHING', [sha256, idx, data]);
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /** The chunks in order, joined; undefined when there are none or their SHA-256 is not `sha256`. */
  async get(sha256: string): Promise<Uint8Array | undefined> {
    const { rows } = await this.#pool().query<{ data: Buffer }>('SELECT data FROM firmware_chunks WHERE sha256 = $1 ORDER BY idx', [sha256]);
    if (rows.length === 0) return undefined;
    const bytes = Buffer.concat(rows.map((r) => r.data));
    if (createHash('sha256').update(bytes).digest('hex') !== sha256) return undefined;
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  }
}
