import { describe, expect, it } from '@jest/globals';
import { ChunkPacer, type ChunkPacerOptions } from './chunk-pacer.js';

const CHUNK = 16384;

/** A pacer on a clock the test moves; `sendFor` runs one turn whose chunks each take `costMs`. */
function setUp(o: Partial<ChunkPacerOptions> = {}) {
  let now = 1000;
  const pacer = new ChunkPacer({ bytesPerSecond: 0, turnBudgetMs: 1, maxChunksPerTurn: 16, clock: () => now, ...o });
  const advance = (ms: number) => (now += ms);
  const sendFor = (costMs: number, bytes = CHUNK): number => {
    pacer.beginTurn();
    let sent = 0;
    while (pacer.mayContinue(CHUNK)) {
      advance(costMs);
      pacer.spent(bytes);
      sent++;
    }
    return sent;
  };
  return { pacer, advance, sendFor };
}

describe('ChunkPacer [FP-14.10]', () => {
  it('ends a turn once its time slice is spent: slow chunks mean fewer per turn', () => {
    const { sendFor } = setUp({ turnBudgetMs: 1 });
    expect(sendFor(0.125)).toBe(8);
    expect(sendFor(0.25)).toBe(4);
    expect(sendFor(0.5)).toBe(2);
  });

  it('always lets the first chunk of a turn go, even when it alone outlasts the slice', () => {
    const { sendFor } = setUp({ turnBudgetMs: 1 });
    expect(sendFor(5)).toBe(1);
    expect(sendFor(5)).toBe(1);
  });

  it('caps the chunks of a turn when the clock does not move', () => {
    const { sendFor } = setUp({ maxChunksPerTurn: 16 });
    expect(sendFor(0)).toBe(16);
  });

  it('with a byte rate: a full bank (100 ms of it) at first, then waits for the budget to refill', () => {
    const rate = 1024 * 1024; // 64 chunks a second
    const { pacer, advance, sendFor } = setUp({ bytesPerSecond: rate, turnBudgetMs: 1000, maxChunksPerTurn: 1000 });
    expect(pacer.waitMs(CHUNK)).toBe(0);
    // 100 ms of 1 MiB/s is 104857 bytes: six chunks, then the seventh would overdraw.
    expect(sendFor(0)).toBe(6);
    const wait = pacer.waitMs(CHUNK);
    expect(wait).toBe(Math.ceil(((CHUNK - (104857.6 - 6 * CHUNK)) * 1000) / rate));
    advance(wait);
    expect(pacer.waitMs(CHUNK)).toBe(0);
    expect(sendFor(0)).toBe(1);
  });

  it('banks no more than 100 ms of budget (and one chunk) after an idle spell', () => {
    const rate = 1024 * 1024;
    const { pacer, advance, sendFor } = setUp({ bytesPerSecond: rate, turnBudgetMs: 1000, maxChunksPerTurn: 1000 });
    pacer.waitMs(CHUNK);
    sendFor(0);
    advance(60_000);
    expect(pacer.waitMs(CHUNK)).toBe(0);
    expect(sendFor(0)).toBe(6);
    // A rate below one chunk per 100 ms still banks one whole chunk, so the pump never waits forever.
    const slow = setUp({ bytesPerSecond: 1000, turnBudgetMs: 1000, maxChunksPerTurn: 1000 });
    expect(slow.pacer.waitMs(CHUNK)).toBe(0);
    expect(slow.sendFor(0)).toBe(1);
    expect(slow.pacer.waitMs(CHUNK)).toBe(Math.ceil((CHUNK * 1000) / 1000));
  });

  it('without a byte rate never waits', () => {
    const { pacer, sendFor } = setUp({ bytesPerSecond: 0 });
    for (let i = 0; i < 100; i++) {
      expect(pacer.waitMs(CHUNK)).toBe(0);
      sendFor(0);
    }
  });
});
