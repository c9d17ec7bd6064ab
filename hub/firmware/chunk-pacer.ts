export interface ChunkPacerOptions {
  /** Chunk bytes per second across all transfers (firmware.maxBytesPerSecond); 0: no byte limit. */
  bytesPerSecond: number;
  /** Time one turn may spend sending chunks, ms: the longest an ACK waits behind a turn [FP-14.10]. */
  turnBudgetMs: number;
  /** Chunks one turn sends at most, whatever the clock says (a coarse clock cannot let a turn run long). */
  maxChunksPerTurn: number;
  /** Monotonic milliseconds, fractions included (performance.now). */
  clock: () => number;
}

/** At most this much of the byte budget is banked, so an idle spell does not turn into a burst. */
const BANK_MS = 100;

/**
 * The pacing of the chunk pump, without timers or sockets: a turn sends chunks while it has time left of
 * its slice (turnBudgetMs), chunks left of its cap and bytes left of the rate's budget. Between turns the
 * event loop reads sockets, so the time slice, not the byte rate, is what bounds other devices' ACK delay;
 * the byte rate only caps what a rollout puts on the network.
 */
export class ChunkPacer {
  readonly #o: ChunkPacerOptions;
  #budget = 0;
  #budgetAt: number | undefined;
  #turnAt = 0;
  #turnChunks = 0;

  constructor(o: ChunkPacerOptions) {
    this.#o = o;
  }

  /** Milliseconds until a chunk of `chunkBytes` may go (0: now); refills the byte budget from the clock. */
  waitMs(chunkBytes: number): number {
    const rate = this.#o.bytesPerSecond;
    if (rate <= 0) return 0;
    const now = this.#o.clock();
    // The first call starts with a full bank: a rollout's first turn need not wait.
    const earned = this.#budgetAt === undefined ? Infinity : ((now - this.#budgetAt) * rate) / 1000;
    this.#budget = Math.min(Math.max((rate * BANK_MS) / 1000, chunkBytes), this.#budget + earned);
    this.#budgetAt = now;
    return this.#budget >= chunkBytes ? 0 : Math.ceil(((chunkBytes - this.#budget) * 1000) / rate);
  }

  /** Starts a turn: its slice and chunk count begin now. */
  beginTurn(): void {
    this.#turnAt = this.#o.clock();
    this.#turnChunks = 0;
  }

  /** Whether this turn may send another chunk of `chunkBytes` (time, count and bytes left). */
  mayContinue(chunkBytes: number): boolean {
    if (this.#turnChunks >= this.#o.maxChunksPerTurn) return false;
    if (this.#o.bytesPerSecond > 0 && this.#budget < chunkBytes) return false;
    // The first chunk of a turn always goes, so a slow clock read or a tiny budget cannot stall the pump.
    return this.#turnChunks === 0 || this.#o.clock() - this.#turnAt < this.#o.turnBudgetMs;
  }

  /** Books a chunk of `bytes` sent in this turn. */
  spent(bytes: number): void {
    this.#turnChunks++;
    if (this.#o.bytesPerSecond > 0) this.#budget -= bytes;
  }
}
