import type { Statement } from 'better-sqlite3';
import type { ValueType } from '../../protocol/types.js';
import type { Db } from './database.js';

/** One (device, metric) series. */
export interface SeriesInfo {
  id: number;
  deviceId: string;
  metric: string;
  type: ValueType;
}

interface SeriesRow {
  id: number;
  device_id: string;
  metric: string;
  value_type: ValueType;
}

/**
 * The series table with an in-memory cache in front: seriesId() is on the ingest hot path, so after
 * the first call for a (device, metric) it is two Map lookups. Built by HubStore.open() after migration.
 */
export class SeriesCatalog {
  readonly #byDevice = new Map<string, Map<string, SeriesInfo>>();
  readonly #byId = new Map<number, SeriesInfo | null>();
  readonly #select: Statement<[string, string], SeriesRow>;
  readonly #selectById: Statement<[number], SeriesRow>;
  readonly #selectByDevice: Statement<[string], SeriesRow>;
  readonly #insert: Statement<[string, string, ValueType]>;
  readonly #retype: Statement<[ValueType, number]>;

  constructor(db: Db) {
    this.#select = db.prepare('SELECT id, device_id, metric, value_type FROM series WHERE device_id = ? AND metric = ?');
    this.#selectById = db.prepare('SELECT id, device_id, metric, value_type FROM series WHERE id = ?');
    this.#selectByDevice = db.prepare('SELECT id, device_id, metric, value_type FROM series WHERE device_id = ? ORDER BY metric');
    this.#insert = db.prepare('INSERT INTO series (device_id, metric, value_type) VALUES (?, ?, ?)');
    this.#retype = db.prepare('UPDATE series SET value_type = ? WHERE id = ?');
  }

  /** The cached series, if this process has seen it. */
  cached(deviceId: string, metric: string): SeriesInfo | undefined {
    return this.#byDevice.get(deviceId)?.get(metric);
  }

  /** The stored series, or undefined; never creates one. */
  find(deviceId: string, metric: string): SeriesInfo | undefined {
    const hit = this.cached(deviceId, metric);
    if (hit) return hit;
    const row = this.#select.get(deviceId, metric);
    return row ? this.#remember(row) : undefined;
  }

  /** The stored series by id; undefined when it does not exist (its device was removed). */
  byId(id: number): SeriesInfo | undefined {
    const hit = this.#byId.get(id);
    if (hit !== undefined) return hit ?? undefined;
    const row = this.#selectById.get(id);
    if (!row) {
      this.#byId.set(id, null);
      return undefined;
    }
    return this.#remember(row);
  }

  /** Every series of a device, by metric name. */
  ofDevice(deviceId: string): SeriesInfo[] {
    return this.#selectByDevice.all(deviceId).map((row) => this.#remember(row));
  }

  /** Creates the series (the device must exist: the foreign key refuses otherwise). */
  create(deviceId: string, metric: string, type: ValueType): SeriesInfo {
    const id = Number(this.#insert.run(deviceId, metric, type).lastInsertRowid);
    return this.#remember({ id, device_id: deviceId, metric, value_type: type });
  }

  /** Records a new value type; the caller has already moved the series' log rows, which the old type reads. */
  retype(info: SeriesInfo, type: ValueType): SeriesInfo {
    this.#retype.run(type, info.id);
    return this.#remember({ id: info.id, device_id: info.deviceId, metric: info.metric, value_type: type });
  }

  /** Drops a removed device's series from the cache (ids are never reused, see the migration). */
  forgetDevice(deviceId: string): void {
    const metrics = this.#byDevice.get(deviceId);
    if (metrics) for (const info of metrics.values()) this.#byId.set(info.id, null);
    this.#byDevice.delete(deviceId);
  }

  /** Forgets everything cached, e.g. after another connection may have removed devices. */
  clear(): void {
    this.#byDevice.clear();
    this.#byId.clear();
  }

  #remember(row: SeriesRow): SeriesInfo {
    const info: SeriesInfo = { id: row.id, deviceId: row.device_id, metric: row.metric, type: row.value_type };
    let metrics = this.#byDevice.get(info.deviceId);
    if (!metrics) this.#byDevice.set(info.deviceId, (metrics = new Map()));
    metrics.set(info.metric, info);
    this.#byId.set(info.id, info);
    return info;
  }
}
