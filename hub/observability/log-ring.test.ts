import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { createLogger } from '../logger.js';
import { LogRing } from './log-ring.js';

describe('LogRing', () => {
  const sink = () => {
    const lines: string[] = [];
    const destination = new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) });
    return { lines, log: createLogger('info', { pretty: false, destination }) };
  };

  it('keeps warn and error lines (children too), newest first, and still writes every line through', () => {
    let t = 1000;
    const ring = new LogRing({ now: () => t++ });
    const { lines, log } = sink();
    const wrapped = ring.wrap(log);
    wrapped.info('hello');
    wrapped.warn({ code: 'HUB_ERR_BUSY', address: '10.0.0.2' }, 'refused');
    wrapped.child({ part: 'mqtt' }).error(new Error('boom'), 'bridge failed');
    wrapped.warn('plain');
    expect(lines).toHaveLength(4);
    expect(ring.lines()).toEqual([
      { ts: 1002, level: 'warn', msg: 'plain', fields: {} },
      { ts: 1001, level: 'error', msg: 'bridge failed', fields: { part: 'mqtt', err: 'boom' } },
      { ts: 1000, level: 'warn', msg: 'refused', fields: { code: 'HUB_ERR_BUSY', address: '10.0.0.2' } },
    ]);
    expect(ring.total).toBe(3);
  });

  it('is bounded: the oldest lines go first', () => {
    const ring = new LogRing({ max: 3 });
    const wrapped = ring.wrap(sink().log);
    for (let i = 0; i < 10; i++) wrapped.warn(`line ${i}`);
    expect(ring.lines().map((l) => l.msg)).toEqual(['line 9', 'line 8', 'line 7']);
    expect(ring.lines(1).map((l) => l.msg)).toEqual(['line 9']);
    expect(ring.total).toBe(10);
  });
});
