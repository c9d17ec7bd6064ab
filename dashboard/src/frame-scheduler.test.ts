import { describe, expect, it } from '@jest/globals';
import { FrameScheduler } from './frame-scheduler.js';

/** A manual requestAnimationFrame: frames run when the test says so. */
function manualFrames() {
  const queue: (() => void)[] = [];
  return {
    request: (cb: () => void) => queue.push(cb),
    frame() {
      const due = queue.splice(0);
      for (const cb of due) cb();
    },
    get pending() {
      return queue.length;
    },
  };
}

describe('FrameScheduler', () => {
  it('coalesces any number of requests between frames into one run', () => {
    const frames = manualFrames();
    let runs = 0;
    const s = new FrameScheduler(() => runs++, frames.request);
    for (let i = 0; i < 20_000; i++) s.request();
    expect(frames.pending).toBe(1);
    expect(runs).toBe(0);
    frames.frame();
    expect(runs).toBe(1);
    expect([s.runs, s.requests]).toEqual([1, 20_000]);
  });

  it('runs again for requests made after (or during) a run', () => {
    const frames = manualFrames();
    let runs = 0;
    const s = new FrameScheduler(() => {
      runs++;
      if (runs === 1) s.request();
    }, frames.request);
    s.request();
    frames.frame();
    expect(runs).toBe(1);
    expect(frames.pending).toBe(1);
    frames.frame();
    expect(runs).toBe(2);
    frames.frame();
    expect(runs).toBe(2);
  });

  it('runs nothing after stop(), not even an already requested frame', () => {
    const frames = manualFrames();
    let runs = 0;
    const s = new FrameScheduler(() => runs++, frames.request);
    s.request();
    s.stop();
    frames.frame();
    s.request();
    frames.frame();
    expect(runs).toBe(0);
  });
});
