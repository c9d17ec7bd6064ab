import { describe, it, expect, afterEach } from '@jest/globals';
import { appendFileSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Sample, TelemetryFrame } from '../protocol/index.js';
import { ManualClock } from './manual-clock.js';
import { Outbox, type OutboxBounds } from './outbox.js';
import { StateStore } from './state-store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-state-'));
  dirs.push(dir);
  return dir;
}

const telemetry = (v: number): TelemetryFrame => ({ type: 'telemetry', seq: 0, ts: 1_700_000_000_000 + v, readings: [{ metric: 1, value: { type: 'float', value: v } }] });
const sample = (i: number): Sample => ({ ts: 1_700_000_000_000 + i * 1000, metric: 2, value: { type: 'int', value: i } });
const limits = { maxFrameBytes: 65_536, maxBatchSamples: 3 };

/** An outbox journaled into `dir`, as SimDevice wires them. */
function journaled(dir: string, options: { compactBytes?: number; bounds?: OutboxBounds; record?: boolean } = {}): { box: Outbox; store: StateStore } {
  let store: StateStore | null = null;
  const box = new Outbox(options.bounds, { journal: (r) => store?.append(r) });
  store = new StateStore(dir, 'dev-1', new ManualClock(), () => box.snapshot(), { compactBytes: options.compactBytes, recordFile: options.record === true ? join(dir, 'record.jsonl') : undefined });
  const saved = store.load();
  if (saved !== null) box.restore(saved);
  return { box, store };
}

/** What a process started on a copy of `dir` would resume with (the original as if SIGKILLed now). */
function resumedCopy(dir: string): ReturnType<Outbox['snapshot']> {
  const copy = tempDir();
  cpSync(dir, copy, { recursive: true });
  return journaled(copy).box.snapshot();
}

/** Every kind of change a device makes, in an order a device can make them. */
const SCRIPT: ((box: Outbox) => void)[] = [
  (b) => b.push(telemetry(1)),
  (b) => b.push(telemetry(2)),
  (b) => b.markSent(b.entries()[0]!),
  (b) => b.ack(1),
  (b) => b.addOffline([sample(1), sample(2)], limits),
  (b) => b.addOffline([sample(3), sample(4), sample(5), sample(6), sample(7)], limits), // seals on the way
  (b) => b.welcome(2),
  (b) => b.sealPending(limits),
  (b) => b.markSent(b.entries()[0]!),
  (b) => b.dropOldest(),
  (b) => b.push({ type: 'event', seq: 0, ts: 1_700_000_001_000, metric: 9, value: { type: 'bool', value: true } }),
  (b) => b.ack(b.nextSeq - 1),
];

describe('StateStore: a write-ahead journal over a snapshot [FP-8.1, FP-8.3]', () => {
  it('after every change, a process killed right then resumes with exactly the state the device had', () => {
    const dir = tempDir();
    const { box } = journaled(dir);
    for (const step of SCRIPT) {
      step(box);
      expect(resumedCopy(dir)).toEqual(box.snapshot());
    }
    expect(box.drops).toBe(1);
  });

  it('a kill between any two journal lines never lets a resumed run reuse a seq for other content [FP-8.1]', () => {
    const dir = tempDir();
    const { box, store } = journaled(dir);
    for (const step of SCRIPT) step(box);
    const lines = readFileSync(store.journalFile, 'utf8').split('\n').filter((l) => l !== '');
    expect(lines.length).toBeGreaterThan(SCRIPT.length);
    for (let k = 1; k <= lines.length; k++) {
      const copy = tempDir();
      cpSync(dir, copy, { recursive: true });
      writeFileSync(join(copy, 'device-dev-1.journal'), `${lines.slice(0, k).join('\n')}\n`);
      const used = lines.slice(0, k).map((l) => JSON.parse(l) as { k: string; seq?: number }).filter((r) => r.k === 'frame').map((r) => r.seq!);
      const resumed = journaled(copy).box;
      expect(resumed.nextSeq).toBeGreaterThan(Math.max(0, ...used));
    }
  });

  it('cuts a torn last line (killed mid-write) and appends after it cleanly', () => {
    const dir = tempDir();
    const first = journaled(dir);
    first.box.push(telemetry(1));
    appendFileSync(first.store.journalFile, '{"k":"frame","seq":2,"da');
    const second = journaled(dir);
    expect(second.box.entries().map((e) => e.seq)).toEqual([1]);
    second.box.push(telemetry(2));
    expect(journaled(dir).box.entries().map((e) => e.seq)).toEqual([1, 2]);
  });

  it('folds a long journal into a snapshot, and skips a journal a kill mid-compaction left stale', () => {
    const dir = tempDir();
    const { box, store } = journaled(dir, { compactBytes: 600 });
    for (let i = 0; i < 20; i++) box.push(telemetry(i));
    store.compact();
    expect(store.saves).toBeGreaterThan(0);
    expect(readFileSync(store.journalFile, 'utf8').split('\n').filter((l) => l !== '')).toHaveLength(1);
    const before = box.snapshot();
    const stale = `${JSON.stringify({ k: 'generation', generation: 0, at: 0 })}\n${JSON.stringify({ k: 'frame', seq: 99, data: 'AAAA', at: 0 })}\n`;
    writeFileSync(store.journalFile, stale);
    expect(journaled(dir).box.snapshot()).toEqual(before);
    expect(readdirSync(dir).sort()).toEqual(['device-dev-1.journal', 'device-dev-1.json']);
  });

  it('keeps every journal line in the record file, never compacted', () => {
    const dir = tempDir();
    const { box, store } = journaled(dir, { compactBytes: 300, record: true });
    for (let i = 0; i < 10; i++) box.push(telemetry(i));
    store.close();
    const record = readFileSync(join(dir, 'record.jsonl'), 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { k: string; seq: number });
    expect(record.filter((r) => r.k === 'frame').map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('refuses a state file of another device', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'device-dev-1.json'), JSON.stringify({ version: 2, deviceId: 'other', savedAt: 0, outbox: new Outbox().snapshot() }));
    expect(() => journaled(dir)).toThrow('not a version 2 state file of device dev-1');
    expect(JSON.parse(readFileSync(join(dir, 'device-dev-1.json'), 'utf8')).deviceId).toBe('other');
  });
});
