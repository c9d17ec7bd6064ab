import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { rethrowListenerError, TypedEmitter } from './typed-emitter.js';

interface Events {
  tick: number;
  word: string;
}

describe('TypedEmitter', () => {
  it('calls the listeners of an event in subscription order, with its payload', () => {
    const e = new TypedEmitter<Events>();
    const seen: string[] = [];
    e.on('tick', (n) => seen.push(`a${n}`));
    e.on('tick', (n) => seen.push(`b${n}`));
    e.on('word', (w) => seen.push(w));
    e.emit('tick', 1);
    e.emit('word', 'hi');
    expect(seen).toEqual(['a1', 'b1', 'hi']);
  });

  it('on() returns an unsubscribe that removes only its own subscription, once', () => {
    const e = new TypedEmitter<Events>();
    const seen: number[] = [];
    const listener = (n: number) => seen.push(n);
    const first = e.on('tick', listener);
    e.on('tick', listener);
    first();
    first();
    e.emit('tick', 7);
    expect(seen).toEqual([7]);
  });

  it('has() says whether anyone listens', () => {
    const e = new TypedEmitter<Events>();
    expect(e.has('tick')).toBe(false);
    const off = e.on('tick', () => {});
    expect(e.has('tick')).toBe(true);
    expect(e.has('word')).toBe(false);
    off();
    expect(e.has('tick')).toBe(false);
  });

  it('an emit walks the listeners as they were when it began: (un)subscribing during it changes the next one', () => {
    const e = new TypedEmitter<Events>();
    const seen: string[] = [];
    let offB = (): void => {};
    e.on('tick', (n) => {
      seen.push(`a${n}`);
      offB();
      e.on('tick', (m) => seen.push(`c${m}`));
    });
    offB = e.on('tick', (n) => seen.push(`b${n}`));
    e.emit('tick', 1);
    expect(seen).toEqual(['a1', 'b1']);
    e.emit('tick', 2);
    expect(seen).toEqual(['a1', 'b1', 'a2', 'c2']);
  });

  it('once() resolves with the next payload and then stops listening', async () => {
    const e = new TypedEmitter<Events>();
    const next = e.once('word');
    expect(e.has('word')).toBe(true);
    e.emit('word', 'first');
    e.emit('word', 'second');
    expect(await next).toBe('first');
    expect(e.has('word')).toBe(false);
  });

  it('a throwing listener does not stop the others; its error goes to onListenerError with the event', () => {
    const errors: [unknown, string][] = [];
    const e = new TypedEmitter<Events>({ onListenerError: (err, event) => errors.push([err, event]) });
    const seen: number[] = [];
    const boom = new Error('listener bug');
    e.on('tick', () => {
      throw boom;
    });
    e.on('tick', (n) => seen.push(n));
    expect(() => e.emit('tick', 3)).not.toThrow();
    expect(seen).toEqual([3]);
    expect(errors).toEqual([[boom, 'tick']]);
  });

  describe('by default', () => {
    const original = globalThis.queueMicrotask;
    afterEach(() => {
      globalThis.queueMicrotask = original;
    });

    it('rethrows a listener error from a microtask, never silently, after every listener ran', () => {
      const queued: (() => void)[] = [];
      globalThis.queueMicrotask = jest.fn((task: () => void) => void queued.push(task));
      const e = new TypedEmitter<Events>();
      const seen: number[] = [];
      e.on('tick', () => {
        throw new Error('listener bug');
      });
      e.on('tick', (n) => seen.push(n));
      e.emit('tick', 4);
      expect(seen).toEqual([4]);
      expect(queued).toHaveLength(1);
      expect(() => queued[0]!()).toThrow('listener bug');
    });

    it('exports that handler for parts that want the same behaviour explicitly', () => {
      const queued: (() => void)[] = [];
      globalThis.queueMicrotask = jest.fn((task: () => void) => void queued.push(task));
      rethrowListenerError(new Error('x'), 'tick');
      expect(() => queued[0]!()).toThrow('x');
    });
  });
});
