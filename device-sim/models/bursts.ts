import type { Rng } from '../rng.js';

/** Longest span over which the intensity is treated as constant, ms. */
const SLICE_MS = 10_000;

export interface BurstState {
  /** Extra occurrences per second left by recent ones; decays exponentially. */
  excitement: number;
}

export interface BurstShape {
  /** Background occurrences per second at device time `t`. */
  baseRate: (t: number) => number;
  /**
   * Follow-up occurrences each occurrence triggers on average; below 1 or the process explodes. A burst
   * then holds 1 / (1 - branching) occurrences on average.
   */
  branching: number;
  /** Time constant of the excitement's decay, ms: how long a burst lasts. */
  decayMs: number;
}

/**
 * Times in (from, to] at which a self-exciting process fired: each occurrence makes the next ones more
 * likely for a while, so motion and doors come in realistic bursts rather than evenly spread.
 */
export function occurrences(state: BurstState, shape: BurstShape, from: number, to: number, rng: Rng): number[] {
  const times: number[] = [];
  let t = from;
  while (t < to) {
    const span = Math.min(SLICE_MS, to - t);
    const rate = shape.baseRate(t) + state.excitement;
    const wait = rate > 0 ? rng.exponential(1000 / rate) : Infinity;
    const advance = Math.min(wait, span);
    state.excitement *= Math.exp(-advance / shape.decayMs);
    t += advance;
    if (wait < span) {
      const at = Math.min(to, Math.max(from + 1, Math.round(t)));
      times.push(at);
      // Integral of jump * e^(-t/decay) over all t is the branching ratio.
      state.excitement += Math.min(0.99, shape.branching) / (shape.decayMs / 1000);
    }
  }
  return times;
}
