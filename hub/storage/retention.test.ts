import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { HubStore } from './hub-store.js';
import { StoreFixture, batchOf, float, newDevice } from './testing/store-fixture.js';
import type { ReadingRow } from './types.js';

const fx = new StoreFixture();
afterAll(() => fx.cleanup());

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = 1_700_000_000_000 - (1_700_000_000_000 % DAY);

type Counts = { chunks: number; readings: number; events: number; minute: number; hour: number; latest: number };

function countsAt(path: string, rawCut: number, rollupCut: number): { old: Counts; all: Counts } {
  const raw = new Database(path, { readonly: true });
  const q = (sql: string, cut: number): number => (raw.prepare(sql).pluck().get(cut) as number) ?? 0;
  const at = (rc: number, uc: number): Counts => ({
    chunks: q('SELECT count(*) FROM chunks WHERE t_max < ?', rc),
    readings: q('SELECT total(n) FROM chunks WHERE t_max < ?', rc),
    events: q('SELECT count(*) FROM events WHERE ts < ?', rc),
    minute: q('SELECT count(*) FROM rollup_minute WHERE bucket < ?', uc),
    hour: q('SELECT count(*) FROM rollup_hour WHERE bucket < ?', uc),
    latest: q('SELECT count(*) FROM series_latest WHERE ts > ?', -1),
  });
  try {
    return { old: at(rawCut, rollupCut), all: at(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER) };
  } finally {
    raw.close();
  }
}

describe('retentionStep', () => {
  it('deletes only what is older than the policy, in steps of at most maxRows', () => {
    let now = T0 + 20 * DAY;
    const path = join(fx.dir(), 'hub.db');
    const policy = { rawMs: 2 * DAY, rollupMs: 10 * DAY };
    const store = fx.track(new HubStore({ path, retention: policy, now: () => now }));
    store.open();
    store.addDevice(newDevice('d'));
    const series = ['a', 'b', 'c'].map((m) => store.seriesId('d', m, 'float'));
    // 20 days, one reading per series every 20 minutes, one event an hour.
    for (let day = 0; day < 20; day++) {
      const readings: ReadingRow[] = [];
      for (let t = 0; t < DAY; t += 20 * 60_000) for (const s of series) readings.push({ series: s, ts: T0 + day * DAY + t, value: float(day + t / DAY) });
      const events = Array.from({ length: 24 }, (_, h) => ({ deviceId: 'd', name: 'tick', ts: T0 + day * DAY + h * HOUR, value: float(h) }));
      store.commit({ ...batchOf(readings, { d: day + 1 }), events });
      store.compactStep();
    }
    const rawCut = now - policy.rawMs;
    const rollupCut = now - policy.rollupMs;
    const { old, all } = countsAt(path, rawCut, rollupCut);
    expect(old.chunks).toBeGreaterThan(0);
    expect(old.events).toBeGreaterThan(0);
    expect(old.minute).toBeGreaterThan(0);
    expect(old.hour).toBeGreaterThan(0);
    const recentRaw = store.history({ deviceId: 'd', metric: 'b', from: rawCut, to: now, step: 'raw', limit: 1e9 });
    const recentHours = store.history({ deviceId: 'd', metric: 'b', from: rollupCut, to: now, step: 'hour', limit: 1e9 });
    const expected = old.chunks + old.events + old.minute + old.hour;

    const maxRows = 50;
    let deleted = 0;
    let steps = 0;
    for (;;) {
      const n = store.retentionStep(maxRows);
      expect(n).toBeLessThanOrEqual(maxRows);
      if (n === 0) break;
      deleted += n;
      steps += 1;
    }
    expect(deleted).toBe(expected);
    expect(steps).toBeGreaterThanOrEqual(Math.ceil(expected / maxRows));

    const after = countsAt(path, rawCut, rollupCut);
    expect(after.old).toEqual({ chunks: 0, readings: 0, events: 0, minute: 0, hour: 0, latest: all.latest });
    expect(after.all).toEqual({
      chunks: all.chunks - old.chunks,
      readings: all.readings - old.readings,
      events: all.events - old.events,
      minute: all.minute - old.minute,
      hour: all.hour - old.hour,
      latest: all.latest,
    });
    expect(store.history({ deviceId: 'd', metric: 'b', from: rawCut, to: now, step: 'raw', limit: 1e9 })).toEqual(recentRaw);
    expect(store.history({ deviceId: 'd', metric: 'b', from: rollupCut, to: now, step: 'hour', limit: 1e9 })).toEqual(recentHours);
    expect(store.latest('d')).toHaveLength(3);

    // A day later, one more day's worth expires, and only that.
    now += DAY;
    const next = countsAt(path, now - policy.rawMs, now - policy.rollupMs).old;
    let more = 0;
    for (let n = store.retentionStep(); n > 0; n = store.retentionStep()) more += n;
    expect(more).toBe(next.chunks + next.events + next.minute + next.hour);
    expect(more).toBeGreaterThan(0);
  });

  it('defaults to 30 days of raw data and 365 days of rollups', () => {
    const now = T0 + 400 * DAY;
    const path = join(fx.dir(), 'hub.db');
    const store = fx.track(new HubStore({ path, now: () => now }));
    store.open();
    store.addDevice(newDevice('d'));
    const s = store.seriesId('d', 'x', 'float');
    const ages = [31 * DAY, 29 * DAY, 366 * DAY, 364 * DAY];
    store.commit(batchOf(ages.map((age, i) => ({ series: s, ts: now - age, value: float(i) })), { d: 1 }));
    store.compactStep();
    while (store.retentionStep() > 0);
    const points = store.history({ deviceId: 'd', metric: 'x', from: 0, to: now, step: 'raw', limit: 10 });
    expect(points).toEqual([{ ts: now - 29 * DAY, value: 1 }]);
    const hours = store.history({ deviceId: 'd', metric: 'x', from: 0, to: now, step: 'hour', limit: 10 });
    expect(hours.map((h) => h.min)).toEqual([3, 0, 1]);
  });
});
