// HubStore with the ingest journal on real files: what a crash leaves is stored exactly once at the next open,
// a drain that fails never fails a commit, and reads see every journaled reading.
import { afterEach, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { appendFileSync, copyFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { HubStore } from '../hub-store.js';
import { batchOf, float, newDevice, StoreFixture } from '../testing/store-fixture.js';
import type { HistoryPoint } from '../types.js';
import { JOURNAL_MAX_UNDRAINED, type JournalSettings } from './ingest-journal.js';
import { DRAIN_SLICE_MIN_READINGS } from './journal-drain.js';
import { WriteGate } from '../write-gate.js';

const T0 = 1_700_000_000_000;
/** Drains only when a read, a removal or close() needs one: the tests decide when records go in. */
const MANUAL: JournalSettings = { drainMs: 3_600_000, drainReadings: 1_000_000 };

const fx = new StoreFixture();
afterEach(() => fx.cleanup());

function open(path: string, journal: JournalSettings = MANUAL, busyTimeoutMs?: number): HubStore {
  const store = fx.track(new HubStore({ path, journal, ...(busyTimeoutMs !== undefined && { busyTimeoutMs }) }));
  store.open();
  return store;
}

/** A store on a new file with device `a` and its float series `t`. */
function fresh(opts: { journal?: JournalSettings; busyTimeoutMs?: number } = {}): { path: string; store: HubStore; s: number } {
  const path = join(fx.dir(), 'hub.db');
  const store = open(path, opts.journal ?? MANUAL, opts.busyTimeoutMs);
  store.addDevice(newDevice('a'));
  return { path, store, s: store.seriesId('a', 't', 'float') };
}

/** Commits readings from..to of device a, one per commit: value i at T0 + i with seq i. */
function commitRange(store: HubStore, s: number, from: number, to: number): void {
  for (let i = from; i <= to; i++) store.commit(batchOf([{ series: s, ts: T0 + i, value: float(i) }], { a: i }));
}

/** What a SIGKILL leaves: the files as they are now (the page cache has every write()), copied to a new directory. */
function crashCopy(path: string): string {
  const from = join(path, '..');
  const to = fx.dir();
  for (const name of readdirSync(from)) if (!name.endsWith('-shm')) copyFileSync(join(from, name), join(to, name));
  return join(to, 'hub.db');
}

function segments(path: string): string[] {
  return readdirSync(join(path, '..')).filter((n) => n.includes('-ingest-')).sort();
}

function raw(store: HubStore, metric = 't'): HistoryPoint[] {
  return store.history({ deviceId: 'a', metric, from: 0, to: T0 * 2, step: 'raw', limit: 100_000 });
}

/** Resolves once the journal is empty: its drain session's turns, or its retry timer, have run. */
async function drained(store: HubStore): Promise<void> {
  while ((store.journalStats()?.readings ?? 0) > 0) await new Promise((r) => setTimeout(r, 5));
}

/** Rows of the log and chunks, read on a connection of its own (no drain on the way). */
function storedRows(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT (SELECT count(*) FROM log) + (SELECT total(n) FROM chunks) AS n').pluck().get() as number;
  } finally {
    db.close();
  }
}

describe('HubStore with the ingest journal', () => {
  it('keeps commits in the journal, not the database, until a drain; a crash then loses none and stores each once', () => {
    const { path, store, s } = fresh();
    for (let i = 1; i <= 50; i++) store.commit(batchOf([{ series: s, ts: T0 + i, value: float(i) }], { a: i }, { a: T0 + i }));
    expect(storedRows(path)).toBe(0);
    expect(store.journalStats()).toMatchObject({ readings: 50, records: 50 });
    // The seq and lastSeen a reconnecting device is told come from the journal meanwhile.
    expect(store.committedSeq('a')).toBe(50);
    expect(store.committedSeqs().get('a')).toBe(50);
    expect(store.getDevice('a')?.lastSeen).toBe(T0 + 50);

    const copy = crashCopy(path);
    const again = open(copy);
    expect(storedRows(copy)).toBe(50);
    expect(raw(again).map((p) => p.value)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(again.committedSeq('a')).toBe(50);
    expect(segments(copy)).toEqual([]); // drained at open, so deleted
    again.close();
    // Reopened once more: nothing is applied twice.
    expect(storedRows(copy)).toBe(50);
    expect(raw(open(copy))).toHaveLength(50);
  });

  it('stores a record once when the crash came after its drain committed and before its segment was deleted', () => {
    const { path, store, s } = fresh();
    commitRange(store, s, 1, 10);
    const [segment] = segments(path);
    const before = crashCopy(path);
    store.drainJournal();
    expect(segments(path)).toEqual([]);
    store.commit(batchOf([{ series: s, ts: T0 + 11, value: float(11) }], { a: 11 }));
    const after = crashCopy(path);
    // The drained segment comes back beside the database that holds its records.
    copyFileSync(join(before, '..', segment!), join(after, '..', segment!));
    const again = open(after);
    expect(raw(again).map((p) => p.value)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
    expect(again.committedSeq('a')).toBe(11);
  });

  it('ignores a record torn by a crash at the end of a segment and keeps every whole one, then appends to a new segment', () => {
    const { path, store, s } = fresh();
    commitRange(store, s, 1, 5);
    const copy = crashCopy(path);
    const [segment] = segments(copy);
    // Half a record: a length that runs past the end, as a write cut by SIGKILL leaves it.
    appendFileSync(join(copy, '..', segment!), Buffer.from([200, 0, 0, 0, 1, 2, 3]));
    const again = open(copy, { drainMs: 3_600_000, drainReadings: 3 });
    expect(again.committedSeq('a')).toBe(5);
    again.commit(batchOf([{ series: s, ts: T0 + 6, value: float(6) }], { a: 6 }));
    expect(segments(copy).length).toBe(1);
    expect(segments(copy)[0]).not.toBe(segment);
    const third = open(crashCopy(copy));
    expect(raw(third).map((p) => p.value)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('drains by itself: at drainReadings after the committing turn, and after drainMs on its timer with no commit coming', async () => {
    const { path, store, s } = fresh({ journal: { drainMs: 30, drainReadings: 10 } });
    commitRange(store, s, 1, 10);
    // Not on the commit's own path: the turn's other frames and ACKs go first.
    expect(store.journalStats()?.readings).toBe(10);
    await drained(store);
    expect(storedRows(path)).toBe(10);
    store.commit(batchOf([{ series: s, ts: T0 + 11, value: float(11) }], { a: 11 }));
    expect(store.journalStats()?.readings).toBe(1);
    await drained(store);
    expect(storedRows(path)).toBe(11);
    expect(segments(path)).toEqual([]);
  });

  it('drains a session one slice per event-loop turn, none past the records that waited when it began', async () => {
    const total = 10_000;
    const { path, store, s } = fresh({ journal: { drainMs: 3_600_000, drainReadings: total } });
    const per = 500;
    let seq = 0;
    const commitMany = (frames: number): void => {
      for (let i = 0; i < frames; i++, seq++) {
        store.commit(batchOf(Array.from({ length: per }, (_, k) => ({ series: s, ts: T0 + seq * per + k, value: float(k) })), { a: seq + 1 }));
      }
    };
    commitMany(total / per); // due at the last commit
    expect(storedRows(path)).toBe(0);
    const turns: number[] = [];
    await new Promise<void>((done) => {
      const next = (): void => {
        turns.push(storedRows(path));
        if (turns.length === 1) commitMany(2); // appended during the session: not its records
        if (turns.length < 40) setImmediate(next);
        else done();
      };
      setImmediate(next);
    });
    // Slices of whole records, at least DRAIN_SLICE_MIN_READINGS, at most one a turn, ending at the 10,000.
    expect(turns[0]).toBeGreaterThanOrEqual(DRAIN_SLICE_MIN_READINGS);
    expect(turns[0]).toBeLessThan(total);
    for (let i = 1; i < turns.length; i++) {
      expect(turns[i]! - turns[i - 1]!).toBeGreaterThanOrEqual(turns[i]! === turns[i - 1]! ? 0 : DRAIN_SLICE_MIN_READINGS - per);
      expect(turns[i]! % per).toBe(0);
    }
    expect(turns[turns.length - 1]).toBe(total);
    expect(store.journalStats()).toMatchObject({ readings: 2 * per, records: 2 });
    expect(store.committedSeq('a')).toBe(seq);
  });

  it('drains in the largest slices once twice drainReadings wait, so a drain that fell behind catches up', async () => {
    const { path, store, s } = fresh({ journal: { drainMs: 3_600_000, drainReadings: 1_000 }, busyTimeoutMs: 1 });
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    try {
      // 25 records of 200 while the first session's drain fails: 5,000 readings, twice the ~2,500 of a 3 ms slice.
      for (let i = 0; i < 25; i++) store.commit(batchOf(Array.from({ length: 200 }, (_, k) => ({ series: s, ts: T0 + i * 200 + k, value: float(k) })), { a: i + 1 }));
      while (store.journalFault() === undefined) await new Promise((r) => setImmediate(r));
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    // The retry timer starts the next session; its first slice (one turn) takes all 5,000.
    let rows = 0;
    while ((rows = storedRows(path)) === 0) await new Promise((r) => setImmediate(r));
    expect(rows).toBe(5_000);
  });

  it('acknowledges commits while the database is locked; drains all of them, once, when the lock goes', async () => {
    const { path, store, s } = fresh({ journal: { drainMs: 0, drainReadings: 1 }, busyTimeoutMs: 1 });
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    try {
      commitRange(store, s, 1, 20);
      // The drain session runs after this turn, and fails on the lock.
      while (store.journalStats()?.drainError == null) await new Promise((r) => setImmediate(r));
      expect(store.journalStats()).toMatchObject({ readings: 20, drainError: expect.stringMatching(/locked/) });
      expect(store.journalFault()).toMatchObject({ cause: 'busy', failures: 1, since: expect.any(Number) });
      // The counts include what waits in the journal while it cannot go in.
      expect(store.stats()).toMatchObject({ storedReadings: 20, pendingLogRows: 20 });
      expect(store.committedSeq('a')).toBe(20);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    store.commit(batchOf([{ series: s, ts: T0 + 21, value: float(21) }], { a: 21 }));
    await drained(store);
    expect(store.journalFault()).toBeUndefined();
    expect(storedRows(path)).toBe(21);
    expect(raw(store).map((p) => p.value)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
  });

  it("puts a session's turn off while a compaction transaction is in flight, not failing it, and drains once it ends", async () => {
    const { path, store, s } = fresh({ journal: { drainMs: 0, drainReadings: 1 }, busyTimeoutMs: 1 });
    const gate = new WriteGate();
    store.attachCompaction(gate);
    // Compaction's side of the gate in its transaction: its flag set (WriteGate.yielding) and the write lock held.
    const compaction = new Database(path);
    compaction.exec('BEGIN IMMEDIATE');
    Atomics.store(new Int32Array(gate.buffer), 1, 1);
    try {
      commitRange(store, s, 1, 20);
      // Many turns pass: a drain that tried the lock would have failed on it (busy after 1 ms).
      const until = performance.now() + 100;
      while (performance.now() < until) await new Promise((r) => setTimeout(r, 1));
      expect(store.journalFault()).toBeUndefined();
      expect(store.journalStats()).toMatchObject({ readings: 20 });
      expect(store.journalStats()?.drainError).toBeNull();
    } finally {
      compaction.exec('ROLLBACK');
      compaction.close();
      gate.reset();
    }
    await drained(store);
    expect(store.journalFault()).toBeUndefined();
    expect(storedRows(path)).toBe(20);
    expect(raw(store).map((p) => p.value)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    store.attachCompaction(undefined);
  });

  it(`refuses appends with the drain's error once ${JOURNAL_MAX_UNDRAINED} readings wait undrained, keeping what it took`, () => {
    const { path, store, s } = fresh({ journal: { drainMs: 0, drainReadings: 1 }, busyTimeoutMs: 1 });
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    const per = 1000;
    let seq = 0;
    let refused: unknown;
    try {
      for (let i = 0; i <= JOURNAL_MAX_UNDRAINED / per && refused === undefined; i++) {
        const readings = Array.from({ length: per }, (_, k) => ({ series: s, ts: T0 + seq * per + k, value: float(k) }));
        try {
          store.commit(batchOf(readings, { a: seq + 1 }));
          seq += 1;
        } catch (err) {
          refused = err;
        }
      }
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect((refused as { code?: string }).code).toMatch(/^SQLITE_BUSY/);
    expect(seq * per).toBe(JOURNAL_MAX_UNDRAINED);
    store.drainJournal();
    expect(store.committedSeq('a')).toBe(seq);
    expect(storedRows(path)).toBe(seq * per);
  });

  it('drains before a removal and before retyping a series, so neither misses a journaled reading', () => {
    const path = join(fx.dir(), 'hub.db');
    const store = open(path);
    store.addDevice(newDevice('a'));
    store.addDevice(newDevice('b'));
    const s = store.seriesId('a', 't', 'float');
    const b = store.seriesId('b', 't', 'float');
    store.commit(batchOf([{ series: s, ts: T0, value: float(1.5) }, { series: b, ts: T0, value: float(2) }], { a: 1, b: 1 }));
    // A firmware update makes t an int: the float reading must be compacted as a float first.
    store.seriesId('a', 't', 'int');
    expect(raw(store)).toEqual([{ ts: T0, value: 1.5 }]);
    store.commit(batchOf([{ series: b, ts: T0 + 1, value: float(3) }], { b: 2 }));
    expect(store.removeDevice('b')).toBe(true);
    expect(store.committedSeq('b')).toBe(0);
    store.addDevice(newDevice('b'));
    expect(store.committedSeq('b')).toBe(0);
    expect(storedRows(path)).toBe(1);
  });

  it('replays at open even when the database refuses it then: the store opens, the records wait, nothing is lost', () => {
    const { path, store, s } = fresh();
    commitRange(store, s, 1, 3);
    const copy = crashCopy(path);
    const other = new Database(copy);
    other.exec('BEGIN IMMEDIATE');
    const again = fx.track(new HubStore({ path: copy, journal: MANUAL, busyTimeoutMs: 1 }));
    try {
      again.open();
      expect(again.journalStats()?.readings).toBe(3);
      expect(again.committedSeq('a')).toBe(3);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect(raw(again).map((p) => p.value)).toEqual([1, 2, 3]);
    expect(existsSync(copy)).toBe(true);
  });

  it('refuses to drain records another process drained (HUB_ERR_JOURNAL_CORRUPT): one hub owns a journal', () => {
    const { path, store, s } = fresh();
    store.commit(batchOf([{ series: s, ts: T0, value: float(1) }], { a: 1 }));
    const intruder = open(path); // replays and drains the hub's record behind its back
    intruder.close();
    expect(() => store.drainJournal()).toThrow(expect.objectContaining({ code: 'HUB_ERR_JOURNAL_CORRUPT' }));
    expect(storedRows(path)).toBe(1);
  });

  it('backs up from another process (the CLI beside the hub) with the records the hub has not drained yet, touching none', async () => {
    const { path, store: hub, s } = fresh();
    commitRange(hub, s, 1, 4);
    hub.drainJournal(); // 1-4 in the database, 5-7 only in the journal
    commitRange(hub, s, 5, 7);
    const live = segments(path);
    const cli = fx.track(new HubStore({ path }));
    cli.open();
    const dest = join(fx.dir(), 'backup.db');
    await cli.backup(dest);
    cli.close();
    expect(segments(path)).toEqual(live);
    expect(storedRows(path)).toBe(4);
    const copy = fx.track(new HubStore({ path: dest }));
    copy.open();
    expect(raw(copy).map((p) => p.value)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(copy.committedSeq('a')).toBe(7);
    copy.close();
    // The hub's own drain is not disturbed by the copy.
    hub.drainJournal();
    expect(raw(hub)).toHaveLength(7);
  });
});
