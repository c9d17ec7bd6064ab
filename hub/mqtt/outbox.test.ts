import { describe, expect, it } from '@jest/globals';
import { Outbox } from './outbox.js';

const drain = (box: Outbox) => {
  const out: string[] = [];
  for (let m = box.shift(); m; m = box.shift()) out.push(`${m.topic}=${m.payload}${m.retain ? ' (r)' : ''}`);
  return out;
};

describe('Outbox', () => {
  it('keeps the order, and a retained topic its newest value at the position of its last put', () => {
    const box = new Outbox(10);
    box.put({ topic: 's/a', payload: '1', retain: true });
    box.put({ topic: 'live', payload: 'x', retain: false });
    box.put({ topic: 's/b', payload: '1', retain: true });
    box.put({ topic: 's/a', payload: '2', retain: true });
    box.put({ topic: 'live', payload: 'y', retain: false });
    expect(box.size).toBe(4);
    expect(drain(box)).toEqual(['live=x', 's/b=1 (r)', 's/a=2 (r)', 'live=y']);
    expect(box.size).toBe(0);
  });

  it('drops the oldest non-retained messages beyond its bound and counts them, never a retained one', () => {
    const box = new Outbox(3);
    box.put({ topic: 's', payload: 'kept', retain: true });
    for (let i = 0; i < 5_000; i++) box.put({ topic: 'live', payload: String(i), retain: false });
    expect(box.peekDropped()).toBe(4_997);
    expect(box.takeDropped()).toBe(4_997);
    expect(box.takeDropped()).toBe(0);
    expect(drain(box)).toEqual(['s=kept (r)', 'live=4997', 'live=4998', 'live=4999']);
  });

  it('stays correct across shifts and puts interleaved past its internal compaction', () => {
    const box = new Outbox(100);
    const got: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      box.put({ topic: 'live', payload: String(i), retain: false });
      if (i % 3 !== 0) got.push(Number(box.shift()!.payload));
    }
    for (let m = box.shift(); m; m = box.shift()) got.push(Number(m.payload));
    const dropped = box.takeDropped();
    expect(got.length + dropped).toBe(20_000);
    expect(got.every((n, i) => i === 0 || n > got[i - 1]!)).toBe(true);
    expect(got.at(-1)).toBe(19_999);
  });

  it('clear() forgets everything held', () => {
    const box = new Outbox(2);
    box.put({ topic: 's', payload: '1', retain: true });
    box.put({ topic: 'live', payload: '1', retain: false });
    box.clear();
    expect(box.size).toBe(0);
    expect(box.shift()).toBeUndefined();
  });
});
