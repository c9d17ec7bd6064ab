import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { bundleForWorker } from './testing/bundle-for-worker.js';
import { WriteGate } from './write-gate.js';

const dir = mkdtempSync(join(tmpdir(), 'hearth-gate-'));
/** write-gate.ts bundled for the other thread, which cannot load TypeScript. */
let built: URL;
beforeAll(async () => {
  built = await bundleForWorker(new URL('./write-gate.ts', import.meta.url), dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Runs `side` ('yielding' or 'priority') of a WriteGate on `buffer` in another thread. Inside the gate it
 * sets log[0] = 1 ("inside"), holds for `holdMs`, then sets log[0] = 2 ("left"); before entering it sets
 * log[1] = 1 ("trying").
 */
function otherThread(buffer: SharedArrayBuffer, log: Int32Array, side: 'yielding' | 'priority', holdMs: number): Promise<number> {
  const code = `
    const { workerData } = require('node:worker_threads');
    import(workerData.url).then(({ WriteGate }) => {
      const gate = new WriteGate(workerData.buffer);
      const log = new Int32Array(workerData.log);
      Atomics.store(log, 1, 1);
      gate[workerData.side](() => {
        Atomics.store(log, 0, 1);
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, workerData.holdMs);
        Atomics.store(log, 0, 2);
      });
    });`;
  const worker = new Worker(code, { eval: true, workerData: { url: built.href, buffer, log: log.buffer, side, holdMs } });
  return new Promise((resolve, reject) => {
    worker.on('error', reject);
    worker.on('exit', resolve);
  });
}

/** Blocks this thread until `cond` holds (bounded): the other side is another thread, so it makes progress. */
function spinUntil(cond: () => boolean): void {
  const deadline = Date.now() + 5000;
  while (!cond()) if (Date.now() > deadline) throw new Error('timed out');
}

describe('WriteGate', () => {
  it('makes the main thread wait for a compaction transaction in flight, then go at once', async () => {
    // Compaction's transactions take 5-7 ms: on a busy machine this thread may not run during one, or the
    // other thread may be descheduled inside it past the wait limit, so the scenario is repeated (a gate that
    // does not wait shows 1 every time).
    let seen = -1;
    for (let attempt = 0; attempt < 20 && seen !== 2; attempt++) {
      const gate = new WriteGate();
      const log = new Int32Array(new SharedArrayBuffer(8));
      const done = otherThread(gate.buffer, log, 'yielding', 5);
      spinUntil(() => Atomics.load(log, 0) !== 0);
      if (Atomics.load(log, 0) === 1) gate.priority(() => (seen = Atomics.load(log, 0)));
      expect(await done).toBe(0);
    }
    expect(seen).toBe(2); // it had left before our write ran
  });

  it('waits a bounded time only: a transaction held far longer does not block the main thread (its commit then meets SQLITE_BUSY)', async () => {
    const gate = new WriteGate();
    const log = new Int32Array(new SharedArrayBuffer(8));
    const done = otherThread(gate.buffer, log, 'yielding', 1000);
    spinUntil(() => Atomics.load(log, 0) === 1);
    let seen = -1;
    gate.priority(() => (seen = Atomics.load(log, 0)));
    expect(seen).toBe(1); // it was still inside: the main thread went on after the wait limit, not after 1 s
    expect(await done).toBe(0);
  });

  it('holds a compaction transaction back while the main thread commits', async () => {
    const gate = new WriteGate();
    const log = new Int32Array(new SharedArrayBuffer(8));
    let done: Promise<number> | undefined;
    let insideDuringOurs = -1;
    gate.priority(() => {
      done = otherThread(gate.buffer, log, 'yielding', 0);
      spinUntil(() => Atomics.load(log, 1) === 1); // it is trying to enter
      const until = Date.now() + 50;
      while (Date.now() < until); // our "commit": it must not enter meanwhile
      insideDuringOurs = Atomics.load(log, 0);
    });
    expect(insideDuringOurs).toBe(0);
    expect(await done).toBe(0);
    expect(Atomics.load(log, 0)).toBe(2); // and it went once we were done
  });
  it('tryPriority skips a write while a compaction transaction is in flight, without waiting, and runs it once none is', async () => {
    const gate = new WriteGate();
    const log = new Int32Array(new SharedArrayBuffer(8));
    const done = otherThread(gate.buffer, log, 'yielding', 1000);
    spinUntil(() => Atomics.load(log, 0) === 1);
    let ran = false;
    const started = Date.now();
    expect(gate.tryPriority(() => (ran = true))).toBe(false);
    expect(ran).toBe(false);
    expect(Date.now() - started).toBeLessThan(500); // it did not wait for the 1 s transaction
    expect(Atomics.load(log, 0)).toBe(1); // which is still in flight
    expect(await done).toBe(0);
    let seen = -1;
    expect(gate.tryPriority(() => (seen = Atomics.load(log, 0)))).toBe(true);
    expect(seen).toBe(2);
  });

  it('tryPriority holds a compaction transaction back while its write runs', async () => {
    const gate = new WriteGate();
    const log = new Int32Array(new SharedArrayBuffer(8));
    let done: Promise<number> | undefined;
    let insideDuringOurs = -1;
    const ran = gate.tryPriority(() => {
      done = otherThread(gate.buffer, log, 'yielding', 0);
      spinUntil(() => Atomics.load(log, 1) === 1);
      const until = Date.now() + 50;
      while (Date.now() < until);
      insideDuringOurs = Atomics.load(log, 0);
    });
    expect(ran).toBe(true);
    expect(insideDuringOurs).toBe(0);
    expect(await done).toBe(0);
    expect(Atomics.load(log, 0)).toBe(2);
  });
});
