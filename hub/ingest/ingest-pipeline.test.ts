import { afterEach, describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../device-sim/manual-clock.js';
import type { Capability, DataFrame, Reading } from '../../protocol/types.js';
import { hello, THERMO_CAPS } from '../../test/support/fixtures.js';
import { DeviceRegistry } from '../devices/device-registry.js';
import { EventBus, type HubEvents } from '../events.js';
import { resolveCapabilities } from '../gateway/validate.js';
import { createLogger } from '../logger.js';
import type { HubStore } from '../storage/hub-store.js';
import type { CommitBatch } from '../storage/types.js';
import { TempStore } from '../testing/temp-store.js';
import { COMMIT_RETRY_MS, IngestPipeline, MAX_CLOCK_AHEAD_MS, type AckChannel, type IngestOptions, type IngestStore } from './ingest-pipeline.js';

const INTERVAL_MS = 50;
const temp = new TempStore();
afterEach(() => temp.cleanup());

/** One device connection as ingest sees it: the ACKs it was sent. */
class Channel implements AckChannel {
  readonly acks: number[] = [];
  constructor(readonly deviceId: string) {}
  ack(seq: number): void {
    this.acks.push(seq);
  }
}

/** The real store behind the IngestStore seam, with commits that fail while `failing` is set (a full disk). */
class FailingStore implements IngestStore {
  failing = false;
  constructor(readonly store: HubStore) {}
  committedSeqs(): Map<string, number> {
    return this.store.committedSeqs();
  }
  seriesId(...args: Parameters<HubStore['seriesId']>): number {
    return this.store.seriesId(...args);
  }
  commit(batch: CommitBatch): void {
    if (this.failing) throw new Error('SQLITE_FULL: database or disk is full');
    this.store.commit(batch);
  }
}

interface Setup {
  clock: ManualClock;
  store: HubStore;
  seam: FailingStore;
  registry: DeviceRegistry;
  ingest: IngestPipeline;
  bus: { readings: HubEvents['readings'][]; events: HubEvents['event'][] };
  pressure: boolean[];
  commits: number[];
  /** Validates `frame` as the session does and hands it to ingest on `channel`. */
  accept(channel: Channel, frame: DataFrame): void;
  temperatures(deviceId: string): { ts: number; value: unknown }[];
}

function setUp(opts: Partial<IngestOptions> = {}, devices = ['th1', 'th2']): Setup {
  const clock = new ManualClock();
  const store = temp.open(() => clock.now());
  const seam = new FailingStore(store);
  const bus = new EventBus();
  const seen: Setup['bus'] = { readings: [], events: [] };
  bus.on('readings', (p) => seen.readings.push(p));
  bus.on('event', (p) => seen.events.push(p));
  const registry = new DeviceRegistry(store, bus);
  registry.load();
  for (const id of devices) {
    registry.provision(id, id, 'thermostat', clock.now());
    registry.greet(id, { type: 'hello', ...hello() }, clock.now());
  }
  const pressure: boolean[] = [];
  const commits: number[] = [];
  const ingest = new IngestPipeline(seam, registry, bus, {
    commitIntervalMs: INTERVAL_MS,
    commitMaxReadings: 1000,
    maxPendingReadings: 100_000,
    now: () => clock.now(),
    log: createLogger('silent'),
    onPressure: (paused) => pressure.push(paused),
    onCommit: (readings) => commits.push(readings),
    timers: clock,
    ...opts,
  });
  ingest.start();
  const caps: Capability[] = [];
  return {
    clock, store, seam, registry, ingest, bus: seen, pressure, commits,
    accept(channel, frame) {
      expect(resolveCapabilities(frame, (id) => registry.capability(channel.deviceId, id), caps)).toBeNull();
      ingest.accept(channel, frame, caps);
    },
    temperatures: (deviceId) =>
      store.history({ deviceId, metric: 'temperature', from: 0, to: Number.MAX_SAFE_INTEGER, step: 'raw', limit: 1000 }).map((p) => ({ ts: p.ts, value: p.value })),
  };
}

const temperature = (value: number): Reading => ({ metric: 1, value: { type: 'float', value } });
const telemetry = (seq: number, ts: number, ...readings: Reading[]): DataFrame => ({ type: 'telemetry', seq, ts, readings });

describe('IngestPipeline', () => {
  it('group commit: frames of several devices go into one transaction after the commit interval, then each connection gets its ACK [FP-8.2]', () => {
    const s = setUp();
    const a = new Channel('th1');
    const b = new Channel('th2');
    s.clock.advance(10); // after the HELLO: the frames' receive time is when the device was last seen
    const t = s.clock.now();
    s.accept(a, telemetry(1, t, temperature(20)));
    s.accept(a, telemetry(2, t + 1, temperature(20.5), { metric: 2, value: { type: 'float', value: 40 } }));
    s.accept(b, telemetry(1, t, temperature(18)));
    expect(s.clock.pendingDelays()).toEqual([INTERVAL_MS]);
    s.clock.advance(INTERVAL_MS - 1);
    expect([a.acks, b.acks, s.store.committedSeq('th1')]).toEqual([[], [], 0]);
    s.clock.advance(1);
    expect(s.ingest.stats).toMatchObject({ commits: 1, framesAccepted: 3, readingsCommitted: 4, pendingReadings: 0 });
    expect(s.commits).toEqual([4]);
    expect([a.acks, b.acks]).toEqual([[2], [1]]);
    expect(s.store.committedSeqs()).toEqual(new Map([['th1', 2], ['th2', 1]]));
    expect(s.temperatures('th1')).toEqual([{ ts: t, value: 20 }, { ts: t + 1, value: 20.5 }]);
    // The bus hears of committed readings only, one event per device, and the registry shows them.
    expect(s.bus.readings.map((r) => [r.deviceId, r.readings.length])).toEqual([['th1', 3], ['th2', 1]]);
    expect(s.registry.currentState('th1').temperature).toEqual({ value: 20.5, ts: t + 1 });
    expect(s.registry.info('th1')?.lastSeen).toBe(t);
  });

  it('commits at once when commitMaxReadings are pending, and once per event-loop turn with a 0 interval', async () => {
    const s = setUp({ commitMaxReadings: 2 });
    const a = new Channel('th1');
    s.accept(a, telemetry(1, 0, temperature(1)));
    expect(a.acks).toEqual([]);
    s.accept(a, telemetry(2, 0, temperature(2)));
    expect(a.acks).toEqual([2]);

    const z = setUp({ commitIntervalMs: 0 });
    const c = new Channel('th1');
    z.accept(c, telemetry(1, 0, temperature(1)));
    z.accept(c, telemetry(2, 0, temperature(2)));
    expect(z.clock.pendingDelays()).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve)); // the turn ends: the group commits
    expect(c.acks).toEqual([2]);
    expect(z.ingest.stats.commits).toBe(1);
  });

  it('a duplicate of a stored frame is acknowledged at once and not stored again [FP-8.7]', () => {
    const s = setUp();
    const a = new Channel('th1');
    const t = s.clock.now();
    s.accept(a, telemetry(1, t, temperature(20)));
    s.clock.advance(INTERVAL_MS);
    const resent = new Channel('th1'); // the device reconnected and resent seq 1 (its ACK was lost)
    s.accept(resent, { ...telemetry(1, t, temperature(20)), resend: true });
    expect(resent.acks).toEqual([1]);
    s.clock.advance(INTERVAL_MS);
    expect(s.ingest.stats).toMatchObject({ duplicates: 1, framesAccepted: 1, commits: 1 });
    expect(s.temperatures('th1')).toEqual([{ ts: t, value: 20 }]);
  });

  it('a duplicate of a frame not yet committed is acknowledged only once the original commits [FP-8.2, FP-8.7]', () => {
    const s = setUp();
    const old = new Channel('th1');
    const t = s.clock.now();
    s.accept(old, telemetry(1, t, temperature(20)));
    const fresh = new Channel('th1');
    s.accept(fresh, { ...telemetry(1, t, temperature(20)), resend: true });
    expect(fresh.acks).toEqual([]);
    s.clock.advance(INTERVAL_MS);
    expect([old.acks, fresh.acks]).toEqual([[1], [1]]);
    expect(s.temperatures('th1')).toHaveLength(1);
  });

  it('the ACK goes back on the connection each frame arrived on, not to whichever is live for the device', () => {
    const s = setUp();
    const before = new Channel('th1');
    const after = new Channel('th1');
    const idle = new Channel('th1');
    s.accept(before, telemetry(1, 0, temperature(1)));
    s.accept(after, telemetry(2, 0, temperature(2)));
    s.clock.advance(INTERVAL_MS);
    expect([before.acks, after.acks, idle.acks]).toEqual([[2], [2], []]);
  });

  it('gaps are accepted: the next seq is whatever follows the highest accepted [FP-8.8]', () => {
    const s = setUp();
    const a = new Channel('th1');
    s.accept(a, telemetry(3, 0, temperature(3)));
    s.accept(a, telemetry(7, 0, temperature(7)));
    s.clock.advance(INTERVAL_MS);
    expect(a.acks).toEqual([7]);
    expect(s.ingest.committedSeq('th1')).toBe(7);
  });

  it('a failed commit sends no ACK, retries every second, pauses devices past maxPendingReadings and resumes them once storage recovers', () => {
    const s = setUp({ maxPendingReadings: 3 });
    const a = new Channel('th1');
    s.seam.failing = true;
    s.accept(a, telemetry(1, 0, temperature(1)));
    s.clock.advance(INTERVAL_MS);
    expect(a.acks).toEqual([]);
    expect(s.ingest.stats).toMatchObject({ faulted: true, commitFailures: 1, pendingReadings: 1 });
    expect(s.clock.pendingDelays()).toEqual([COMMIT_RETRY_MS]);
    s.accept(a, telemetry(2, 0, temperature(2)));
    expect(s.pressure).toEqual([]);
    s.accept(a, telemetry(3, 0, temperature(3)));
    expect(s.pressure).toEqual([true]); // stop reading from devices: TCP pushes back
    s.clock.advance(COMMIT_RETRY_MS);
    expect(s.ingest.stats.commitFailures).toBe(2);
    expect([a.acks, s.bus.readings, s.pressure]).toEqual([[], [], [true]]);
    s.seam.failing = false;
    s.clock.advance(COMMIT_RETRY_MS);
    expect(a.acks).toEqual([3]);
    expect(s.pressure).toEqual([true, false]);
    expect(s.ingest.stats).toMatchObject({ faulted: false, commits: 1, readingsCommitted: 3, pendingReadings: 0 });
    expect(s.temperatures('th1').map((p) => p.value)).toEqual([1, 2, 3]);
  });

  it('flush() says whether the store took the batch; stop() cancels the commit timer', () => {
    const s = setUp();
    const a = new Channel('th1');
    s.accept(a, telemetry(1, 0, temperature(1)));
    s.seam.failing = true;
    expect(s.ingest.flush()).toBe(false);
    s.seam.failing = false;
    expect(s.ingest.flush()).toBe(true);
    expect(a.acks).toEqual([1]);
    s.accept(a, telemetry(2, 0, temperature(2)));
    s.ingest.stop();
    expect(s.clock.pendingDelays()).toEqual([]);
    expect(a.acks).toEqual([1]); // what is left stays unacknowledged: the device resends it
  });

  it('device timestamps: 0 means hub time, more than 60 s ahead is replaced by hub time and counted [FP-8.6]', () => {
    const s = setUp();
    const a = new Channel('th1');
    const now = s.clock.now();
    s.accept(a, telemetry(1, 0, temperature(1)));
    s.accept(a, telemetry(2, now + MAX_CLOCK_AHEAD_MS, temperature(2)));
    s.accept(a, telemetry(3, now + MAX_CLOCK_AHEAD_MS + 1, temperature(3)));
    s.accept(a, { type: 'batch', seq: 4, samples: [{ ts: now - 5000, metric: 1, value: { type: 'float', value: 4 } }, { ts: now + 3_600_000, metric: 1, value: { type: 'float', value: 5 } }] });
    s.clock.advance(INTERVAL_MS);
    expect(s.temperatures('th1')).toEqual([
      { ts: now - 5000, value: 4 },
      { ts: now, value: 1 },
      { ts: now, value: 3 },
      { ts: now, value: 5 },
      { ts: now + MAX_CLOCK_AHEAD_MS, value: 2 },
    ]);
    expect(s.ingest.stats.clockSkewed).toBe(2);
  });

  it('events are stored and announced by capability name, after their commit [FP-7.6]', () => {
    const s = setUp();
    const a = new Channel('th1');
    const t = s.clock.now();
    s.accept(a, { type: 'event', seq: 1, ts: t, metric: 4, value: { type: 'bool', value: true } });
    expect(s.bus.events).toEqual([]);
    s.clock.advance(INTERVAL_MS);
    expect(s.bus.events).toEqual([{ deviceId: 'th1', events: [{ name: 'motion', ts: t, value: { type: 'bool', value: true } }] }]);
    expect(s.store.events('th1', 0, Number.MAX_SAFE_INTEGER, 10)).toEqual([{ name: 'motion', ts: t, value: { type: 'bool', value: true } }]);
    expect(s.ingest.stats.eventsCommitted).toBe(1);
    expect(a.acks).toEqual([1]);
  });

  it('start() takes the committed seqs from the store: after a restart, WELCOME.nextSeq follows them and old frames are duplicates [FP-8.4]', () => {
    const s = setUp();
    const a = new Channel('th1');
    s.accept(a, telemetry(5, 0, temperature(5)));
    s.clock.advance(INTERVAL_MS);
    const restarted = new IngestPipeline(s.store, s.registry, new EventBus(), {
      commitIntervalMs: INTERVAL_MS, commitMaxReadings: 1000, maxPendingReadings: 1000, now: () => s.clock.now(), log: createLogger('silent'), onPressure: () => {}, timers: s.clock,
    });
    expect(restarted.committedSeq('th1')).toBe(0);
    restarted.start();
    expect(restarted.committedSeq('th1')).toBe(5);
    const b = new Channel('th1');
    restarted.accept(b, telemetry(4, 0, temperature(4)), [THERMO_CAPS[0]!]);
    expect(b.acks).toEqual([5]);
  });
});
