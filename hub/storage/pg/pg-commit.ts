import type pg from 'pg';
import type { Value } from '../../../protocol/types.js';
import type { CommitBatch } from '../types.js';
import type { Fence } from '../store-contract.js';
import { FencedError } from './fenced-error.js';
import { boolArray, float8Array, int4Array, int8Array, textArray } from './pg-binary-array.js';

export type { Fence } from '../store-contract.js';

/** The two columns a value is stored in: num (bool 0/1, int, enum index, float) or txt (string). */
export function valueColumns(v: Value): [num: number | null, txt: string | null] {
  switch (v.type) {
    case 'string':
      return [null, v.value];
    case 'bool':
      return [v.value ? 1 : 0, null];
    default:
      return [v.value, null];
  }
}

/**
 * Writes a batch through `pool` in ONE statement, hearth_commit() (migration 5), whose own transaction holds
 * it all: fence check (row locks on device_owner), readings (and the rollups of late ones, see
 * rollup_state), events, seqs and lastSeen [FP-8.2]. One round trip: the statements of a transaction do not
 * each wait for the hub's event loop. Any error rolls all of it back and is rethrown; a stale fence throws
 * FencedError, nothing written; a batch stored before (its answer lost with the connection) is not written
 * again. A client in a transaction of the caller's works too (a test holding a commit open).
 */
export async function commitBatch(pool: pg.Pool | pg.ClientBase, batch: CommitBatch, fence?: Fence): Promise<void> {
  const n = batch.readings.length;
  const [ts, num, series, txt, roll] = [new Array<number>(n), new Array<number | null>(n), new Array<number>(n), new Array<string | null>(n), new Array<boolean>(n)];
  for (let i = 0; i < n; i++) {
    const r = batch.readings[i]!;
    const [x, t] = valueColumns(r.value);
    ts[i] = r.ts;
    num[i] = x;
    series[i] = r.series;
    txt[i] = t;
    // Rolled up when late (bool counts as 0/1, as SQLite's rollups do; enums are not).
    roll[i] = x !== null && r.value.type !== 'enum';
  }
  const ev: [string[], string[], number[], string[], (number | null)[], (string | null)[]] = [[], [], [], [], [], []];
  for (const e of batch.events) {
    const [x, t] = valueColumns(e.value);
    ev[0].push(e.deviceId), ev[1].push(e.name), ev[2].push(e.ts), ev[3].push(e.value.type), ev[4].push(x), ev[5].push(t);
  }
  const seqIds = [...batch.seqs.keys()];
  const seenIds = [...batch.lastSeen.keys()].filter((id) => !batch.seqs.has(id));
  const fenceIds = fence ? [...fence.keys()] : [];
  const seqs = seqIds.map((id) => batch.seqs.get(id)!);
  const epochs = fenceIds.map((id) => fence!.get(id)!);
  // The large arrays in binary (pg-binary-array.ts); one that cannot be (an unsafe integer) goes as text.
  const { rows } = await pool.query<{ answer: string }>(COMMIT, [
    int8Array(ts) ?? ts, float8Array(num), int4Array(series) ?? series, textArray(txt) ?? txt, boolArray(roll),
    ...ev,
    textArray(seqIds) ?? seqIds, int8Array(seqs) ?? seqs, seqIds.map((id) => batch.lastSeen.get(id) ?? null),
    seenIds, seenIds.map((id) => batch.lastSeen.get(id)!),
    textArray(fenceIds) ?? fenceIds, int8Array(epochs) ?? epochs,
  ]);
  const answer = rows[0]!.answer;
  if (answer.startsWith('fenced ')) throw new FencedError(answer.slice('fenced '.length).split(' '));
}

const COMMIT = `SELECT hearth_commit(
  $1::bigint[], $2::float8[], $3::int[], $4::text[], $5::boolean[],
  $6::text[], $7::text[], $8::bigint[], $9::text[], $10::float8[], $11::text[],
  $12::text[], $13::bigint[], $14::bigint[],
  $15::text[], $16::bigint[],
  $17::text[], $18::bigint[]) AS answer`;
