import { describe, it, expect } from '@jest/globals';
import { decode, LIMITS } from '../protocol/index.js';
import type { BatchFrame, Sample, TelemetryFrame } from '../protocol/index.js';
import { Outbox, type OutboxEntry } from './outbox.js';

const telemetry = (value: number): TelemetryFrame => ({ type: 'telemetry', seq: 0, ts: 1_700_000_000_000, readings: [{ metric: 1, value: { type: 'float', value } }] });
const sample = (i: number): Sample => ({ ts: 1_700_000_000_000 + i * 1000, metric: 1, value: { type: 'float', value: i + 0.5 } });
const limits = { maxFrameBytes: LIMITS.maxFrameBytes, maxBatchSamples: LIMITS.maxBatchSamples };

describe('Outbox', () => {
  it('numbers data frames from 1, +1 each [FP-8.1]', () => {
    const box = new Outbox();
    const seqs = [box.push(telemetry(1)), box.push(telemetry(2)), box.push(telemetry(3))].map((e) => e.seq);
    expect(seqs).toEqual([1, 2, 3]);
    expect(decode(box.entries()[2]!.bytes)).toMatchObject({ type: 'telemetry', seq: 3 });
  });

  it('a cumulative ACK removes every frame up to its seq [FP-8.2]', () => {
    const box = new Outbox();
    for (let i = 0; i < 5; i++) box.push(telemetry(i));
    expect(box.ack(3).map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(box.entries().map((e) => e.seq)).toEqual([4, 5]);
    expect(box.lastAckedSeq).toBe(3);
    expect(box.ack(2)).toEqual([]);
    expect(box.lastAckedSeq).toBe(3);
  });

  it('past the frame bound drops the oldest and counts every drop', () => {
    const dropped: OutboxEntry[] = [];
    const box = new Outbox({ maxFrames: 3, maxBytes: 1 << 20 }, { drop: (e) => dropped.push(e) });
    for (let i = 0; i < 3; i++) box.push(telemetry(i));
    expect(box.drops).toBe(0);
    for (let i = 3; i < 7; i++) box.push(telemetry(i));
    expect(box.entries().map((e) => e.seq)).toEqual([5, 6, 7]);
    expect(dropped.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(box.drops).toBe(4);
    expect(box.droppedItems).toBe(4);
  });

  it('past the byte bound drops the oldest, never the newest', () => {
    const box = new Outbox({ maxFrames: 1000, maxBytes: 0 });
    box.push(telemetry(1));
    box.push(telemetry(2));
    expect(box.entries().map((e) => e.seq)).toEqual([2]);
    expect(box.drops).toBe(1);

    const one = new Outbox().push(telemetry(1)).bytes.length;
    const sized = new Outbox({ maxFrames: 1000, maxBytes: one * 4 });
    for (let i = 0; i < 4; i++) sized.push(telemetry(i));
    expect(sized.drops).toBe(0);
    sized.push(telemetry(9));
    expect(sized.drops).toBe(1);
    expect(sized.bytes).toBeLessThanOrEqual(one * 4);
  });

  it('offline samples seal into BATCH frames of at most maxBatchSamples [FP-8.5]', () => {
    const box = new Outbox();
    const sealed = box.addOffline(Array.from({ length: 25 }, (_, i) => sample(i)), { ...limits, maxBatchSamples: 10 });
    expect(sealed.map((e) => e.items)).toEqual([10, 10]);
    expect(box.pendingSamples).toBe(5);
    const last = box.sealPending(limits);
    expect(last.map((e) => e.items)).toEqual([5]);
    const all = box.entries().flatMap((e) => (decode(e.bytes) as BatchFrame).samples);
    expect(all).toEqual(Array.from({ length: 25 }, (_, i) => sample(i)));
    expect(box.entries().map((e) => e.seq)).toEqual([1, 2, 3]);
  });

  it('offline samples seal before a BATCH would pass maxFrameBytes [FP-9.1]', () => {
    const box = new Outbox();
    const small = { maxFrameBytes: 200, maxBatchSamples: 4096 };
    box.addOffline(Array.from({ length: 100 }, (_, i) => sample(i)), small);
    box.sealPending(small);
    const sizes = box.entries().map((e) => e.bytes.length);
    expect(sizes.length).toBeGreaterThan(1);
    for (const size of sizes) expect(size).toBeLessThanOrEqual(200);
    expect(box.entries().reduce((n, e) => n + e.items, 0)).toBe(100);
  });

  it('WELCOME.nextSeq discards what the hub stored and numbering continues from max(own, nextSeq) [FP-8.4]', () => {
    const box = new Outbox();
    for (let i = 0; i < 5; i++) box.push(telemetry(i)).sent = true;
    expect(box.welcome(4).map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(box.entries().map((e) => e.seq)).toEqual([4, 5]);
    expect(box.push(telemetry(9)).seq).toBe(6);
    box.welcome(20);
    expect(box.length).toBe(0);
    expect(box.push(telemetry(9)).seq).toBe(20);
  });

  it('renumbers never-sent frames when the hub is ahead of a device that lost its state', () => {
    const moves: [number, number][] = [];
    const box = new Outbox(undefined, { renumber: (m) => moves.push(...m) });
    box.push(telemetry(1));
    box.push(telemetry(2));
    expect(box.welcome(101)).toEqual([]);
    expect(box.entries().map((e) => e.seq)).toEqual([101, 102]);
    expect(box.entries().map((e) => decode(e.bytes))).toMatchObject([{ seq: 101 }, { seq: 102 }]);
    expect(moves).toEqual([[1, 101], [2, 102]]);
    expect(box.push(telemetry(3)).seq).toBe(103);
  });

  it('a frame sent before goes out again with RESEND set [FP-8.4]', () => {
    const box = new Outbox();
    const entry = box.push(telemetry(1));
    expect(decode(box.wireBytes(entry))).not.toHaveProperty('resend', true);
    entry.sent = true;
    expect(decode(box.wireBytes(entry))).toMatchObject({ type: 'telemetry', seq: 1, resend: true });
  });

  it('a snapshot restores frames, counters and pending samples', () => {
    const box = new Outbox({ maxFrames: 2, maxBytes: 1 << 20 });
    for (let i = 0; i < 4; i++) box.push(telemetry(i));
    box.entries()[0]!.sent = true;
    box.ack(3);
    box.addOffline([sample(1), sample(2)], limits);
    const copy = new Outbox({ maxFrames: 2, maxBytes: 1 << 20 });
    copy.restore(JSON.parse(JSON.stringify(box.snapshot())));
    expect(copy.entries().map((e) => [e.seq, e.sent])).toEqual(box.entries().map((e) => [e.seq, e.sent]));
    expect([copy.nextSeq, copy.lastAckedSeq, copy.drops, copy.pendingSamples]).toEqual([box.nextSeq, box.lastAckedSeq, box.drops, 2]);
    expect(copy.sealPending().map((e) => (decode(e.bytes) as BatchFrame).samples)).toEqual([[sample(1), sample(2)]]);
  });
});
