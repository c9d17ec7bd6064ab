import type { Statement, Transaction } from 'better-sqlite3';
import type { Value, ValueType } from '../../../protocol/types.js';
import { decodeChunk, encodeChunk, type ChunkData } from '../chunk-codec.js';
import type { Db } from '../database.js';
import { CHUNK_MAX_SPAN_MS } from '../migrations/0001-initial.js';
import { fromNative, isNumeric, nativeSql, type Native } from '../native-value.js';
import { aggregateSorted, BUCKET_MS, type Aggregate, Rollups } from '../rollups.js';
import type { WriteGate } from '../write-gate.js';

/**
 * Most readings in one chunk. The newest chunk of a series keeps taking readings (decoded, merged,
 * re-encoded) until it holds this many: large enough that per-row and index overhead stays well under
 * a byte per reading, small enough that rewriting the open chunk on every pass stays cheap.
 */
export const CHUNK_MAX_READINGS = 128;

/** How much one pass reads and how much one write transaction may carry. */
export interface PassLimits {
  /** Most log rows one pass reads (oldest first). */
  maxRows: number;
  /**
   * Most log rows one write transaction moves: bounds how long the hub's commits can wait on it. A
   * series is never split, so one series with more rows than this gets a transaction of its own.
   */
  maxRowsPerTx: number;
  /** Most series one write transaction writes (each costs a chunk, rollup and latest-value write). */
  maxSeriesPerTx: number;
}

/** What one pass did. */
export interface PassResult {
  /** Log rows moved into chunks (or dropped with their removed device). */
  rows: number;
  series: number;
  transactions: number;
  /** Time in the read phase: reading, decoding, merging, encoding; no write lock held. */
  readMs: number;
  /** Time spent inside write transactions, summed, and the longest one. */
  writeMs: number;
  maxTxMs: number;
  /** Most log rows and series one write transaction moved. */
  maxTxRows: number;
  maxTxSeries: number;
  /** True when a device was removed or a series retyped meanwhile: the rest of the pass was dropped, to be read again. */
  conflict: boolean;
}

export interface PassHooks {
  /** Test seam: runs between the read phase and each write transaction, as a concurrent writer could. */
  beforeWrite?: (transaction: number) => void;
  /** After each committed write transaction (compaction/loop.ts checkpoints the WAL there). */
  afterWrite?: (transaction: number) => void;
}

type LogRow = [rowid: number, series: number, ts: number, value: Native];
type OpenChunk = { id: number; n: number; tMin: number; data: Uint8Array };
type ChunkWrite = { reuse: { id: number; n: number; tMin: number } | undefined; tMin: number; tMax: number; n: number; data: Uint8Array };
type SeriesRows = { rowids: number[]; ts: number[]; raw: Native[] };

/** What the read phase saw: log rows by series and the open chunk of each series that still exists. */
interface Snapshot {
  generation: number;
  rows: number;
  /** Rowid of the last log row read (rows are read in rowid order). */
  lastRowid: number;
  bySeries: Map<number, SeriesRows>;
  opened: Map<number, OpenChunk | undefined>;
}

/** Everything one series' rows turn into, computed before any lock is taken. */
interface SeriesWork {
  series: number;
  rowids: number[];
  /** Undefined for rows whose series is gone (its device was removed): they are only deleted. */
  type: ValueType | undefined;
  chunks: ChunkWrite[];
  minute: Aggregate[];
  hour: Aggregate[];
  latest: { ts: number; value: Native } | undefined;
}

/** Thrown inside a write transaction to roll it back when what the read phase saw has changed. */
class Conflict extends Error {}

/**
 * The one compaction of the log into compressed per-series chunks, rollups and series_latest: its
 * statements and the planning of every series' writes. Three ways to run it, all through the same plan:
 * - run(): two phases, for a connection of its own (the compaction worker's, or inline in a
 *   CompactionRunner): a read phase outside any write lock (log rows in rowid order, the open chunk of
 *   each series, decode, merge, encode, rollup deltas) and short write transactions that store the
 *   results and delete exactly the rows they came from. The other writers that touch what it read
 *   (device removal, retyping, retention, moveOldest() on another connection) bump compaction_guard,
 *   which every write transaction checks.
 * - moveOldest(): read and write in one transaction (HubStore.compactStep: tools, tests, benchmarks).
 * - moveSeries(): inside the caller's transaction (HubStore, before a series is retyped).
 * Every write transaction moves whole series and deletes their rows, so a reading is in exactly one of
 * log or chunks at every commit [FP-8.7]; a crash or conflict just leaves rows for the next pass.
 */
export class CompactionPass {
  readonly #db: Db;
  readonly #gate: WriteGate | undefined;
  readonly #rollups: Rollups;
  readonly #guard: Statement<[], number>;
  readonly #bumpGuard: Statement<[]>;
  readonly #head: Statement<[number], LogRow>;
  readonly #ofSeries: Statement<[number], LogRow>;
  readonly #typeOf: Statement<[number], ValueType>;
  readonly #newest: Statement<[number], OpenChunk>;
  readonly #deleteUpTo: Statement<[number]>;
  readonly #deleteRowids: Statement<[string]>;
  readonly #insertChunk: Statement<[number, number, number, number, Uint8Array]>;
  readonly #updateChunk: Statement<[number, number, number, Uint8Array, number, number]>;
  readonly #appendChunk: Statement<[number, number, Uint8Array, number, number]>;
  readonly #latest: Statement<[{ series: number; ts: number; value: Native; type: ValueType }]>;
  readonly #moveOldest: Transaction<(maxRows: number) => number>;
  /** Value types by series id, valid while the guard generation stays `#generation`. */
  readonly #types = new Map<number, ValueType | null>();
  #generation = -1;

  /** `gate`: run()'s write transactions wait while the hub's main thread commits (see WriteGate). */
  constructor(db: Db, gate?: WriteGate) {
    this.#db = db;
    this.#gate = gate;
    this.#rollups = new Rollups(db);
    this.#guard = db.prepare('SELECT generation FROM compaction_guard WHERE id = 1').pluck() as unknown as Statement<[], number>;
    this.#bumpGuard = db.prepare('UPDATE compaction_guard SET generation = generation + 1 WHERE id = 1');
    this.#head = db.prepare('SELECT rowid, series, ts, value FROM log ORDER BY rowid LIMIT ?').raw() as unknown as Statement<[number], LogRow>;
    this.#ofSeries = db.prepare('SELECT rowid, series, ts, value FROM log WHERE series = ? ORDER BY rowid').raw() as unknown as Statement<[number], LogRow>;
    this.#typeOf = db.prepare('SELECT value_type FROM series WHERE id = ?').pluck() as unknown as Statement<[number], ValueType>;
    // The chunk that starts last: the one new readings usually extend (a series' chunks rarely overlap).
    this.#newest = db.prepare('SELECT id, n, t_min AS tMin, data FROM chunks WHERE series = ? ORDER BY t_min DESC LIMIT 1');
    this.#deleteUpTo = db.prepare('DELETE FROM log WHERE rowid <= ?');
    this.#deleteRowids = db.prepare('DELETE FROM log WHERE rowid IN (SELECT value FROM json_each(?))');
    this.#insertChunk = db.prepare('INSERT INTO chunks (series, t_min, t_max, n, data) VALUES (?, ?, ?, ?, ?)');
    // `AND n = ?`: the chunk must still be the one the read phase merged into (a net behind the guard).
    this.#updateChunk = db.prepare('UPDATE chunks SET t_min = ?, t_max = ?, n = ?, data = ? WHERE id = ? AND n = ?');
    // Without t_min, so that the (series, t_min) index is not rewritten: the usual case, readings newer than the chunk's first.
    this.#appendChunk = db.prepare('UPDATE chunks SET t_max = ?, n = ?, data = ? WHERE id = ? AND n = ?');
    this.#latest = db.prepare(
      `INSERT INTO series_latest (series, ts, value) VALUES (@series, @ts, ${nativeSql('@value', '@type')})
       ON CONFLICT (series) DO UPDATE SET ts = excluded.ts, value = excluded.value WHERE excluded.ts >= series_latest.ts`,
    );
    this.#moveOldest = db.transaction((maxRows: number) => {
      const moved = this.#moveAtOnce(this.#head.all(maxRows), true);
      // A run() on another connection may be between its phases: make it read again.
      if (moved > 0) this.#bumpGuard.run();
      return moved;
    });
  }

  /** Moves up to limits.maxRows of the oldest log rows in write transactions bounded by `limits`; see PassResult. */
  run(limits: PassLimits, hooks: PassHooks = {}): PassResult {
    const started = performance.now();
    const snapshot = this.#db.transaction(() => this.#gather(this.#head.all(limits.maxRows))).deferred();
    const work = this.#plan(snapshot);
    const result: PassResult = {
      rows: 0, series: 0, transactions: 0, readMs: 0, writeMs: 0, maxTxMs: 0, maxTxRows: 0, maxTxSeries: 0, conflict: false,
    };
    result.readMs = performance.now() - started;
    if (snapshot.rows === 0) return result;
    for (const group of groups(work, limits)) {
      // One group holding every row read deletes them as a range, much cheaper than by rowid.
      const upTo = group.length === work.length ? snapshot.lastRowid : undefined;
      hooks.beforeWrite?.(result.transactions);
      const t0 = performance.now();
      let moved: number;
      try {
        moved = this.#write(snapshot.generation, group, upTo);
      } catch (err) {
        if (!(err instanceof Conflict)) throw err;
        result.conflict = true;
        break;
      }
      const ms = performance.now() - t0;
      result.transactions += 1;
      result.rows += moved;
      result.series += group.length;
      result.writeMs += ms;
      result.maxTxMs = Math.max(result.maxTxMs, ms);
      result.maxTxRows = Math.max(result.maxTxRows, moved);
      result.maxTxSeries = Math.max(result.maxTxSeries, group.length);
      hooks.afterWrite?.(result.transactions);
    }
    return result;
  }

  /**
   * Moves up to maxRows of the oldest log rows (rowid order) in ONE immediate transaction on this
   * connection, reads and writes under the same lock; returns how many rows left the log.
   */
  moveOldest(maxRows: number): number {
    return this.#moveOldest.immediate(maxRows);
  }

  /**
   * Inside the caller's write transaction: moves every log row of one series, before its value type
   * changes (the log is read by that type); returns how many rows left the log.
   */
  moveSeries(series: number): number {
    return this.#moveAtOnce(this.#ofSeries.all(series), false);
  }

  /** Gather, plan and write in the caller's transaction; `range`: the rows are the log's head. */
  #moveAtOnce(rows: LogRow[], range: boolean): number {
    const snapshot = this.#gather(rows);
    if (snapshot.rows === 0) return 0;
    return this.#apply(this.#plan(snapshot), range ? snapshot.lastRowid : undefined);
  }

  /** In a transaction: groups the rows by series and reads the open chunk of each live one. */
  #gather(rows: LogRow[]): Snapshot {
    const generation = this.#guard.get()!;
    if (generation !== this.#generation) {
      this.#types.clear();
      this.#generation = generation;
    }
    const bySeries = new Map<number, SeriesRows>();
    for (const [rowid, series, ts, raw] of rows) {
      let g = bySeries.get(series);
      if (!g) bySeries.set(series, (g = { rowids: [], ts: [], raw: [] }));
      g.rowids.push(rowid);
      g.ts.push(ts);
      g.raw.push(raw);
    }
    const opened = new Map<number, OpenChunk | undefined>();
    for (const series of bySeries.keys()) if (this.#type(series)) opened.set(series, this.#newest.get(series));
    return { generation, rows: rows.length, lastRowid: rows.length > 0 ? rows[rows.length - 1]![0] : 0, bySeries, opened };
  }

  /** Computes every write (no statement runs here: in run() no lock is held meanwhile). */
  #plan(snapshot: Snapshot): SeriesWork[] {
    const work: SeriesWork[] = [];
    for (const [series, g] of snapshot.bySeries) {
      const type = this.#type(series);
      work.push(type ? plan(series, type, g, snapshot.opened.get(series)) : orphan(series, g.rowids));
    }
    return work;
  }

  #type(series: number): ValueType | undefined {
    let type = this.#types.get(series);
    if (type === undefined) this.#types.set(series, (type = this.#typeOf.get(series) ?? null));
    return type ?? undefined;
  }

  /** One write transaction of run() for a group of series; returns the rows that left the log. */
  #write(generation: number, group: SeriesWork[], upTo: number | undefined): number {
    const tx = this.#db.transaction(() => {
      if (this.#guard.get() !== generation) throw new Conflict('series changed since the read phase');
      return this.#apply(group, upTo);
    });
    return this.#gate ? this.#gate.yielding(() => tx.immediate()) : tx.immediate();
  }

  /** In a write transaction: deletes the group's log rows (all up to `upTo`, or by rowid) and stores what they became. */
  #apply(group: SeriesWork[], upTo: number | undefined): number {
    const expected = group.reduce((n, w) => n + w.rowids.length, 0);
    const deleted =
      upTo !== undefined ? this.#deleteUpTo.run(upTo).changes : this.#deleteRowids.run(JSON.stringify(group.flatMap((w) => w.rowids))).changes;
    // Only compaction deletes log rows while the guard holds; a mismatch means the guard missed a writer.
    if (deleted !== expected) throw new Conflict(`deleted ${deleted} log rows, expected ${expected}`);
    for (const w of group) {
      if (!w.type) continue;
      for (const c of w.chunks) {
        if (c.reuse) {
          const { id, n, tMin } = c.reuse;
          const changes =
            c.tMin === tMin ? this.#appendChunk.run(c.tMax, c.n, c.data, id, n).changes : this.#updateChunk.run(c.tMin, c.tMax, c.n, c.data, id, n).changes;
          if (changes !== 1) throw new Conflict(`chunk ${id} changed`);
        } else {
          this.#insertChunk.run(w.series, c.tMin, c.tMax, c.n, c.data);
        }
      }
      if (w.minute.length > 0) this.#rollups.merge(w.series, 'minute', w.minute);
      if (w.hour.length > 0) this.#rollups.merge(w.series, 'hour', w.hour);
      if (w.latest) this.#latest.run({ series: w.series, ts: w.latest.ts, value: w.latest.value, type: w.type });
    }
    return expected;
  }
}

/** The writes for one series' rows: merged into its open chunk (if not full), cut into pieces, rollups, latest. */
function plan(series: number, type: ValueType, rows: SeriesRows, open: OpenChunk | undefined): SeriesWork {
  const { rowids, ts, raw } = rows;
  sortByTs(ts, raw);
  const n = ts.length;
  const numeric = isNumeric(type);
  const nums = raw as number[];
  const fresh: ChunkData = { ts, values: raw.map((r): Value => fromNative(type, r)) };
  const merged = open && open.n < CHUNK_MAX_READINGS ? mergeSorted(decodeChunk(open.data), fresh) : fresh;
  let reuse = open && merged !== fresh ? { id: open.id, n: open.n, tMin: open.tMin } : undefined;
  const chunks: ChunkWrite[] = [];
  for (const [from, to] of pieces(merged.ts)) {
    const pts = merged.ts.slice(from, to);
    chunks.push({ reuse, tMin: pts[0]!, tMax: pts[pts.length - 1]!, n: pts.length, data: encodeChunk(pts, merged.values.slice(from, to)) });
    reuse = undefined;
  }
  return {
    series,
    rowids,
    type,
    chunks,
    minute: numeric ? aggregateSorted(ts, nums, BUCKET_MS.minute) : [],
    hour: numeric ? aggregateSorted(ts, nums, BUCKET_MS.hour) : [],
    // Sorted and stable: the last row is the newest reading, the later arrival among equal timestamps.
    latest: { ts: ts[n - 1]!, value: raw[n - 1]! },
  };
}

function orphan(series: number, rowids: number[]): SeriesWork {
  return { series, rowids, type: undefined, chunks: [], minute: [], hour: [], latest: undefined };
}

/** Splits the work into consecutive groups within the per-transaction limits (a series is never split). */
function groups(work: SeriesWork[], limits: PassLimits): SeriesWork[][] {
  const out: SeriesWork[][] = [];
  let cur: SeriesWork[] = [];
  let rows = 0;
  for (const w of work) {
    if (cur.length > 0 && (cur.length >= limits.maxSeriesPerTx || rows + w.rowids.length > limits.maxRowsPerTx)) {
      out.push(cur);
      cur = [];
      rows = 0;
    }
    cur.push(w);
    rows += w.rowids.length;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** Sorts parallel arrays by ts, keeping arrival order among equal timestamps (usually already sorted). */
function sortByTs(ts: number[], raw: Native[]): void {
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
function mergeSorted(a: ChunkData, b: ChunkData): ChunkData {
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
function pieces(ts: readonly number[]): Array<[number, number]> {
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
