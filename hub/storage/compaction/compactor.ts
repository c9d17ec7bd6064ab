import type { Statement } from 'better-sqlite3';
import type { Value, ValueType } from '../../../protocol/types.js';
import { decodeChunk, encodeChunk, type ChunkData } from '../chunk-codec.js';
import type { Db } from '../database.js';
import { CHUNK_MAX_SPAN_MS } from '../migrations/0001-initial.js';
import { fromNative, isNumeric, nativeSql, type Native } from '../native-value.js';
import type { Rollups } from '../rollups.js';
import type { SeriesCatalog, SeriesInfo } from '../series-catalog.js';

/**
 * Most readings in one chunk. The newest chunk of a series keeps taking readings (decoded, merged,
 * re-encoded) until it holds this many: large enough that per-row and index overhead stays well under
 * a byte per reading, small enough that rewriting the open chunk on every pass stays cheap.
 */
export const CHUNK_MAX_READINGS = 128;

type LogRow = [rowid: number, series: number, ts: number, value: Native];
type OpenChunk = { id: number; n: number; data: Uint8Array };

/**
 * Moves readings from the append-only log into compressed per-series chunks, merging them into the
 * rollups and series_latest on the way. Runs inside the caller's transaction, so a reading is always
 * in exactly one of log or chunks: stored exactly once [FP-8.7]. Built by HubStore.open() after migration.
 */
export class Compactor {
  readonly #catalog: SeriesCatalog;
  readonly #rollups: Rollups;
  readonly #head: Statement<[number], LogRow>;
  readonly #ofSeries: Statement<[number], LogRow>;
  readonly #deleteHead: Statement<[number]>;
  readonly #deleteSeries: Statement<[number]>;
  readonly #newest: Statement<[number], OpenChunk>;
  readonly #insertChunk: Statement<[number, number, number, number, Uint8Array]>;
  readonly #updateChunk: Statement<[number, number, number, Uint8Array, number]>;
  readonly #latest: Statement<[{ series: number; ts: number; value: Native; type: ValueType }]>;

  constructor(db: Db, catalog: SeriesCatalog, rollups: Rollups) {
    this.#catalog = catalog;
    this.#rollups = rollups;
    this.#head = db.prepare('SELECT rowid, series, ts, value FROM log ORDER BY rowid LIMIT ?').raw() as unknown as Statement<[number], LogRow>;
    this.#ofSeries = db.prepare('SELECT rowid, series, ts, value FROM log WHERE series = ? ORDER BY rowid').raw() as unknown as Statement<[number], LogRow>;
    this.#deleteHead = db.prepare('DELETE FROM log WHERE rowid <= ?');
    this.#deleteSeries = db.prepare('DELETE FROM log WHERE series = ?');
    this.#newest = db.prepare('SELECT id, n, data FROM chunks WHERE series = ? ORDER BY t_max DESC LIMIT 1');
    this.#insertChunk = db.prepare('INSERT INTO chunks (series, t_min, t_max, n, data) VALUES (?, ?, ?, ?, ?)');
    this.#updateChunk = db.prepare('UPDATE chunks SET t_min = ?, t_max = ?, n = ?, data = ? WHERE id = ?');
    this.#latest = db.prepare(
      `INSERT INTO series_latest (series, ts, value) VALUES (@series, @ts, ${nativeSql('@value', '@type')})
       ON CONFLICT (series) DO UPDATE SET ts = excluded.ts, value = excluded.value WHERE excluded.ts >= series_latest.ts`,
    );
  }

  /** Moves up to `maxRows` of the oldest log rows (rowid order); returns how many left the log. */
  moveOldest(maxRows: number): number {
    const rows = this.#head.all(maxRows);
    if (rows.length === 0) return 0;
    this.#move(rows);
    // The rows read are exactly those up to the last rowid read: the log only grows at its end.
    this.#deleteHead.run(rows[rows.length - 1]![0]);
    return rows.length;
  }

  /** Moves every log row of one series (before its value type changes: the log is read by that type). */
  moveSeries(series: number): number {
    const rows = this.#ofSeries.all(series);
    if (rows.length === 0) return 0;
    this.#move(rows);
    this.#deleteSeries.run(series);
    return rows.length;
  }

  #move(rows: LogRow[]): void {
    const groups = new Map<number, { ts: number[]; raw: Native[] }>();
    for (const [, series, ts, raw] of rows) {
      let g = groups.get(series);
      if (!g) groups.set(series, (g = { ts: [], raw: [] }));
      g.ts.push(ts);
      g.raw.push(raw);
    }
    for (const [series, g] of groups) {
      const info = this.#catalog.byId(series);
      // No series: its device was removed after the rows were committed; they go with it.
      if (info) this.#writeSeries(info, g.ts, g.raw);
    }
  }

  #writeSeries(info: SeriesInfo, ts: number[], raw: Native[]): void {
    sortByTs(ts, raw);
    const n = ts.length;
    if (isNumeric(info.type)) this.#rollups.add(info.id, ts, raw as number[]);
    // Sorted and stable: the last row is the newest reading, the later arrival among equal timestamps.
    this.#latest.run({ series: info.id, ts: ts[n - 1]!, value: raw[n - 1]!, type: info.type });

    const fresh: ChunkData = { ts, values: raw.map((r) => fromNative(info.type, r)) };
    const open = this.#newest.get(info.id);
    const merged = open && open.n < CHUNK_MAX_READINGS ? mergeSorted(decodeChunk(open.data), fresh) : fresh;
    let reuse = open && merged !== fresh ? open.id : undefined;
    for (const [from, to] of pieces(merged.ts)) {
      const pts = merged.ts.slice(from, to);
      const data = encodeChunk(pts, merged.values.slice(from, to));
      const tMin = pts[0]!;
      const tMax = pts[pts.length - 1]!;
      if (reuse !== undefined) {
        this.#updateChunk.run(tMin, tMax, pts.length, data, reuse);
        reuse = undefined;
      } else {
        this.#insertChunk.run(info.id, tMin, tMax, pts.length, data);
      }
    }
  }
}

/** Sorts parallel arrays by ts, keeping arrival order among equal timestamps (usually already sorted). */
export function sortByTs(ts: number[], raw: Native[]): void {
  let sorted = true;
  for (let i = 1; i < ts.length && sorted; i++) if (ts[i]! < ts[i - 1]!) sorted = false;
  if (sorted) return;
  const order = ts.map((_, i) => i).sort((a, b) => ts[a]! - ts[b]! || a - b);
  const t = order.map((i) => ts[i]!);
  const r = order.map((i) => raw[i]!);
  for (let i = 0; i < ts.length; i++) {
    ts[i] = t[i]!;
    raw[i] = r[i]!;
  }
}

/** Merges two ts-sorted chunks; on equal timestamps the older chunk's readings come first. */
export function mergeSorted(a: ChunkData, b: ChunkData): ChunkData {
  const ts: number[] = [];
  const values: Value[] = [];
  let i = 0;
  let j = 0;
  while (i < a.ts.length || j < b.ts.length) {
    if (j >= b.ts.length || (i < a.ts.length && a.ts[i]! <= b.ts[j]!)) {
      ts.push(a.ts[i]!);
      values.push(a.values[i++]!);
    } else {
      ts.push(b.ts[j]!);
      values.push(b.values[j++]!);
    }
  }
  return { ts, values };
}

/** Cuts sorted timestamps into [from, to) ranges of at most CHUNK_MAX_READINGS and CHUNK_MAX_SPAN_MS. */
export function pieces(ts: readonly number[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let start = 0;
  for (let i = 1; i < ts.length; i++) {
    if (i - start >= CHUNK_MAX_READINGS || ts[i]! - ts[start]! > CHUNK_MAX_SPAN_MS) {
      out.push([start, i]);
      start = i;
    }
  }
  out.push([start, ts.length]);
  return out;
}
