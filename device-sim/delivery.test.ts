import { describe, it, expect } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Backoff } from './backoff.js';
import { ManualClock } from './manual-clock.js';
import { light, motionSensor, thermostat } from './models/index.js';
import type { DeviceModel } from './models/model.js';
import { Rng } from './rng.js';
import { SimDevice, type SimDeviceOptions } from './sim-device.js';
import { eventually } from '../test/support/eventually.js';
import type { RecordedItem } from './send-record.js';
import { byTime } from './testing/stored-items.js';
import type { TestHub } from './testing/test-hub.js';
import { testHubs } from './testing/test-hubs.js';

const { defer, startHub } = testHubs({ acceptAnyToken: true });

function device(hub: TestHub, model: DeviceModel, extra: Partial<SimDeviceOptions> = {}): SimDevice {
  const d = new SimDevice({ id: 'dev-1', token: 'secret', model, hubUrl: hub.url, rate: 0, recordSent: true, ...extra });
  defer(() => d.stop({ ackTimeoutMs: 0 }));
  return d;
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-sim-'));
  defer(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Items of the frames the hub acknowledged, in seq order (the database's view: hub.stored()). */
const ackedItems = (hub: TestHub, id: string): RecordedItem[] =>
  [...hub.device(id).acked.entries()].sort((a, b) => a[0] - b[0]).flatMap(([, items]) => items);

describe('delivery', () => {
  it('readings taken while offline are replayed as BATCH frames, in time order, none lost [FP-8.5]', async () => {
    const hub = await startHub({ maxBatchSamples: 4 });
    const d = device(hub, thermostat, { backoff: { baseMs: 1, capMs: 5 } });
    await d.start();
    await eventually(() => d.online, { what: 'online' });
    d.sendNow();
    await eventually(() => d.outbox.length === 0, { what: 'first reading acknowledged' });
    await hub.stop();
    await eventually(() => !d.online, { what: 'offline' });
    for (let i = 0; i < 5; i++) d.sendNow(); // 15 samples: 3 readings each
    expect(d.outbox.entries().map((e) => e.kind)).toEqual(['batch', 'batch', 'batch']);
    await hub.start();
    await eventually(() => d.online && d.outbox.length === 0, { what: 'replay acknowledged' });
    const seqs = [...hub.device(d.id).acked.keys()].sort((a, b) => a - b);
    expect(seqs).toEqual([1, 2, 3, 4, 5]);
    expect(hub.committedSeq(d.id)).toBe(5);
    expect(d.record!.kept().map((f) => f.items.length)).toEqual([3, 4, 4, 4, 3]);
    expect(ackedItems(hub, d.id)).toEqual(d.record!.kept().flatMap((f) => f.items));
    expect(hub.stored(d.id)).toEqual(byTime(d.record!.kept().flatMap((f) => f.items)));
    const ts = ackedItems(hub, d.id).map((i) => i.ts);
    expect(ts).toEqual([...ts].sort((a, b) => a - b));
  });

  it('a long replay goes compressed (permessage-deflate, small window) and arrives intact [FP-10.4]', async () => {
    const hub = await startHub();
    const d = device(hub, thermostat, { backoff: { baseMs: 1, capMs: 5 } });
    await d.start();
    await eventually(() => d.online, { what: 'online' });
    await hub.stop();
    await eventually(() => !d.online, { what: 'offline' });
    for (let i = 0; i < 400; i++) d.sendNow(); // 1200 samples: one BATCH of several KB
    await hub.start();
    await eventually(() => d.online && d.outbox.length === 0, { what: 'replay acknowledged' });
    const negotiated = 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=10';
    expect(hub.extensions).toEqual([negotiated, negotiated]);
    expect([...hub.device(d.id).acked.values()].map((items) => items.length)).toEqual([1200]);
    const batchBytes = d.record!.kept()[0]!.items.length * 6; // at least 6 bytes a sample uncompressed
    await d.stop();
    const replay = hub.closes.at(-1)!;
    expect(replay.code).toBe(1000);
    expect(replay.bytesRead).toBeLessThan(batchBytes / 2);
    expect(ackedItems(hub, d.id)).toEqual(d.record!.kept().flatMap((f) => f.items));
    expect(hub.stored(d.id)).toEqual(byTime(d.record!.kept().flatMap((f) => f.items)));
  });

  it('splits readings over several TELEMETRY frames when WELCOME.maxReadingsPerFrame asks for it [FP-6.2]', async () => {
    const hub = await startHub({ maxReadingsPerFrame: 2 });
    const d = device(hub, thermostat);
    await d.start();
    await eventually(() => d.online, { what: 'online' });
    d.sendNow();
    await eventually(() => d.counters.acked === 2, { what: 'two frames acknowledged' });
    expect([...hub.device(d.id).acked.values()].map((items) => items.length)).toEqual([2, 1]);
    expect(ackedItems(hub, d.id)).toEqual(d.record!.kept().flatMap((f) => f.items));
    expect(hub.stored(d.id)).toEqual(byTime(d.record!.kept().flatMap((f) => f.items)));
  });

  it('respects WELCOME.maxFramesPerSecond when sending a backlog: no 4008 [FP-9.2]', async () => {
    const clock = new ManualClock();
    const hub = await startHub({ maxFramesPerSecond: 10, now: () => clock.now() });
    const d = device(hub, light, { clock });
    await d.start();
    await eventually(() => d.online, { what: 'online' });
    for (let i = 0; i < 45; i++) d.sendNow();
    const received = () => hub.device(d.id).frames;
    await eventually(() => received() === 10, { what: 'the first second of frames' });
    for (let second = 1; second <= 4; second++) {
      clock.advance(1000);
      await eventually(() => received() === Math.min(45, 10 + 10 * second), { what: `second ${second} of frames` });
    }
    await eventually(() => d.outbox.length === 0, { what: 'all acknowledged' });
    expect(d.counters.connects).toBe(1);
    expect(d.lastHubError).toBeNull();
  });

  it('--state-dir: a restarted device resends what its predecessor left unacknowledged [FP-8.3, FP-8.4]', async () => {
    const dir = tempDir();
    const hub = await startHub();
    const first = device(hub, motionSensor, { stateDir: dir, backoff: { baseMs: 1, capMs: 5 } });
    await first.start();
    await eventually(() => first.online, { what: 'online' });
    first.sendNow();
    await eventually(() => first.outbox.length === 0, { what: 'first frame acknowledged' });
    hub.ackMode = 'hold';
    for (let i = 0; i < 4; i++) first.sendNow();
    await eventually(() => hub.device(first.id).frames === 5, { what: 'frames received, not acknowledged' });
    await hub.stop({ loseUncommitted: true }); // the hub crashed before committing them
    await eventually(() => !first.online, { what: 'offline' });
    first.sendNow(); // taken offline: a pending BATCH sample, saved as such
    await first.stop({ ackTimeoutMs: 0 });
    const saved = JSON.parse(readFileSync(join(dir, 'device-dev-1.json'), 'utf8')) as { outbox: { nextSeq: number; lastAckedSeq: number; frames: unknown[]; pending: unknown[] } };
    expect(saved.outbox).toMatchObject({ nextSeq: 6, lastAckedSeq: 1, frames: expect.any(Array), pending: expect.any(Array) });
    expect(saved.outbox.frames).toHaveLength(4);
    expect(saved.outbox.pending).toHaveLength(1);

    hub.ackMode = 'auto';
    await hub.start();
    const second = device(hub, motionSensor, { stateDir: dir });
    await second.start();
    expect(second.pending).toBe(5);
    await eventually(() => second.online && second.outbox.length === 0, { what: 'resent and acknowledged' });
    expect(hub.device('dev-1').hellos.map((h) => h.lastAckedSeq)).toEqual([0, 1]);
    expect(second.counters.resent).toBe(4);
    expect(hub.device('dev-1').resends).toBe(4);
    expect([...hub.device('dev-1').acked.keys()].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
    const expected = [...first.record!.kept().flatMap((f) => f.items), ...second.record!.kept().flatMap((f) => f.items)];
    expect(ackedItems(hub, 'dev-1')).toEqual(expected);
    expect(hub.stored('dev-1')).toEqual(byTime(expected));
    second.sendNow();
    await eventually(() => hub.device('dev-1').acked.has(7), { what: 'numbering continues at 7' });
  });

  it('stop() waiting out a backoff dials at once to deliver what it buffered, then closes with 1000', async () => {
    const clock = new ManualClock();
    const hub = await startHub({ now: () => clock.now() });
    const d = device(hub, light, { clock, backoff: { baseMs: 60_000, capMs: 60_000 } });
    await d.start();
    await eventually(() => d.online, { what: 'online' });
    await hub.stop();
    await eventually(() => d.state === 'waiting', { what: 'waiting out the backoff' });
    d.sendNow();
    d.sendNow();
    await hub.start();
    await d.stop({ ackTimeoutMs: 10_000 });
    expect(d.pending).toBe(0);
    expect(ackedItems(hub, d.id)).toEqual(d.record!.kept().flatMap((f) => f.items));
    expect(hub.stored(d.id)).toEqual(byTime(d.record!.kept().flatMap((f) => f.items)));
    expect(hub.stored(d.id)).toHaveLength(4);
    expect(hub.closes.at(-1)!.code).toBe(1000);
  });

  it('reconnect delays follow full jitter within the cap, from the seeded source, and restart after WELCOME [FP-10.6]', async () => {
    const clock = new ManualClock();
    const hub = await startHub({ now: () => clock.now() });
    await hub.stop();
    const d = device(hub, light, { clock, seed: 'jitter', backoff: { baseMs: 1000, capMs: 8000 } });
    const delays: { delayMs: number; attempt: number; ceilingMs: number }[] = [];
    d.on('waiting', (w) => delays.push(w));
    await d.start();
    for (let n = 0; n < 7; n++) {
      await eventually(() => delays.length === n + 1, { what: `attempt ${n} scheduled` });
      clock.advanceToNext();
    }
    // The same seed drives an independent Backoff to the same numbers: the delays come from the injected source.
    const reference = new Backoff(new Rng('jitter/dev-1/backoff'), { baseMs: 1000, capMs: 8000 });
    expect(delays.map((w) => w.delayMs)).toEqual(delays.map(() => reference.next()));
    expect(delays.map((w) => w.ceilingMs)).toEqual([1000, 2000, 4000, 8000, 8000, 8000, 8000]);
    for (const w of delays) {
      expect(w.delayMs).toBeGreaterThanOrEqual(0);
      expect(w.delayMs).toBeLessThanOrEqual(w.ceilingMs);
    }
    expect(new Set(delays.map((w) => w.delayMs)).size).toBeGreaterThan(4);

    await eventually(() => delays.length === 8, { what: 'attempt 7 scheduled' });
    await hub.start(); // same port
    clock.advanceToNext();
    await eventually(() => d.online, { what: 'connected once the hub is back' });
    hub.dropConnections();
    await eventually(() => delays.length === 9, { what: 'next attempt scheduled' });
    expect(delays[8]).toMatchObject({ attempt: 0, ceilingMs: 1000 });
  });
});
