import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { createLogger } from '../logger.js';
import { RateLimitedLog } from './rate-limited-log.js';

function setup(windowMs?: number) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  let now = 1_000;
  const log = new RateLimitedLog({ log: createLogger('debug', { pretty: false, destination: sink }), now: () => now, ...(windowMs ? { windowMs } : {}) });
  return { log, lines, advance: (ms: number) => (now += ms) };
}

describe('RateLimitedLog', () => {
  it('writes one line per cause per window and counts the rest into the next line as `suppressed`', () => {
    const { log, lines, advance } = setup();
    expect([log.warn('a', { n: 1 }, 'A'), log.warn('a', { n: 2 }, 'A'), log.warn('a', { n: 3 }, 'A')]).toEqual([true, false, false]);
    expect(log.warn('b', {}, 'B')).toBe(true); // another cause has its own window
    advance(9_999);
    expect(log.warn('a', { n: 4 }, 'A')).toBe(false);
    advance(1);
    expect(log.warn('a', { n: 5 }, 'A')).toBe(true);
    advance(10_000);
    expect(log.warn('a', { n: 6 }, 'A')).toBe(true);
    expect(lines.map((l) => [l.msg, l.n, l.suppressed, l.level])).toEqual([
      ['A', 1, undefined, 40],
      ['B', undefined, undefined, 40],
      ['A', 5, 3, 40],
      ['A', 6, undefined, 40],
    ]);
  });

  it('takes the window from its options', () => {
    const { log, advance } = setup(100);
    expect(log.warn('a', {}, 'A')).toBe(true);
    advance(99);
    expect(log.warn('a', {}, 'A')).toBe(false);
    advance(1);
    expect(log.warn('a', {}, 'A')).toBe(true);
  });
});
