import type { Statement } from 'better-sqlite3';
import { decodeChunk } from './chunk-codec.js';
import type { Db } from './database.js';
import { CHUNK_MAX_SPAN_MS } from './migrations/0001-initial.js';
import { toNative, type Native } from './native-value.js';
import type { Rollups } from './rollups.js';
import type { HistoryPoint } from './types.js';

/**
 * Chunks of a series overlapping [from, to]: t_min <= to and t_max >= from. Since no chunk spans more
 * than CHUNK_MAX_SPAN_MS, t_min >= from - CHUNK_MAX_SPAN_MS bounds the scan of the (series, t_min) index.
 * Exported for the migration test's EXPLAIN QUERY PLAN.
 */
export const CHUNK_RANGE_SQL =
  'SELECT id, t_min FROM chunks WHERE series = @series AND t_min >= @from - @span AND t_min <= @to AND t_max >= @from';

type ChunkRef = { id: number; t_min: number };

/** Reads history of one series: raw points from chunks and the log tail, or rollups. Built by HubStore.open(). */
export class History {
  readonly #rollups: Rollups;
  readonly #chunks: Statement<[{ series: number; from: number; to: number; span: number }], ChunkRef>;
  readonly #chunkData: Statement<[number], Uint8Array>;
  readonly #log: Statement<[number, number, number], [number, Native]>;

  constructor(db: Db, rollups: Rollups) {
    this.#rollups = rollups;
    this.#chunks = db.prepare(CHUNK_RANGE_SQL);
    this.#chunkData = db.prepare('SELECT data FROM chunks WHERE id = ?').pluck() as unknown as Statement<[number], Uint8Array>;
    // No index on the log, on purpose: it holds seconds of readings between compactions (see the schema).
    this.#log = db.prepare('SELECT ts, value FROM log WHERE series = ? AND ts BETWEEN ? AND ?').raw() as unknown as Statement<
      [number, number, number],
      [number, Native]
    >;
  }

  /**
   * The first `limit` readings with ts in [from, to], in (ts, value) order, from chunks and the log alike:
   * the same answer before and after compaction. Chunks are decoded lazily in t_min order and the scan
   * stops once no further chunk can hold an earlier point, so a wide range with a small limit stays cheap.
   */
  raw(series: number, from: number, to: number, limit: number): HistoryPoint[] {
    const points: HistoryPoint[] = [];
    for (const [ts, value] of this.#log.all(series, from, to)) points.push({ ts, value });
    const refs = this.#chunks.all({ series, from, to, span: CHUNK_MAX_SPAN_MS }).sort((a, b) => a.t_min - b.t_min);
    for (const ref of refs) {
      if (points.length >= limit) {
        truncate(points, limit);
        if (ref.t_min > points[limit - 1]!.ts) break;
      }
      const chunk = decodeChunk(this.#chunkData.get(ref.id)!);
      for (let i = 0; i < chunk.ts.length; i++) {
        const ts = chunk.ts[i]!;
        if (ts >= from && ts <= to) points.push({ ts, value: toNative(chunk.values[i]!) });
      }
    }
    truncate(points, limit);
    return points;
  }

  /** Rollup buckets (see Rollups.query). */
  rolled(series: number, step: 'minute' | 'hour', from: number, to: number, limit: number): HistoryPoint[] {
    return this.#rollups.query(series, step, from, to, limit);
  }
}

/** Sorts by (ts, value) and keeps the first `limit`: a total order, so ties come out the same every time. */
function truncate(points: HistoryPoint[], limit: number): void {
  points.sort(comparePoints);
  if (points.length > limit) points.length = limit;
}

function comparePoints(a: HistoryPoint, b: HistoryPoint): number {
  if (a.ts !== b.ts) return a.ts - b.ts;
  const x = a.value!;
  const y = b.value!;
  return x < y ? -1 : x > y ? 1 : 0;
}
