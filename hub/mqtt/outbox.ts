/** One message held for the broker. */
export interface HeldMessage {
  topic: string;
  payload: string;
  retain: boolean;
}

/**
 * Messages held while the external broker's socket is full, in the order they came. A retained message
 * replaces the one held for its topic (a retained topic only ever shows its newest value) and moves to the
 * end; the others (the readings stream, events, command results: QoS 0) are kept up to `maxLive`, the
 * oldest dropped beyond, and counted.
 */
export class Outbox {
  readonly #maxLive: number;
  /** 'r' + topic for a retained message, 'l' + a counter for the others: Map keeps their order. */
  readonly #held = new Map<string, HeldMessage>();
  /** Keys of the non-retained messages held, oldest first (from #head on). */
  readonly #live: string[] = [];
  #head = 0;
  #next = 0;
  #dropped = 0;

  constructor(maxLive: number) {
    this.#maxLive = maxLive;
  }

  get size(): number {
    return this.#held.size;
  }

  /** Non-retained messages dropped since the last takeDropped(), left counted. */
  peekDropped(): number {
    return this.#dropped;
  }

  /** Non-retained messages dropped since the last takeDropped(). */
  takeDropped(): number {
    const n = this.#dropped;
    this.#dropped = 0;
    return n;
  }

  put(message: HeldMessage): void {
    if (message.retain) {
      const key = `r${message.topic}`;
      this.#held.delete(key);
      this.#held.set(key, message);
      return;
    }
    const key = `l${this.#next++}`;
    this.#held.set(key, message);
    this.#live.push(key);
    while (this.#live.length - this.#head > this.#maxLive) {
      this.#held.delete(this.#live[this.#head++]!);
      this.#dropped += 1;
    }
    this.#compact();
  }

  /** Forgets the keys before #head once they are most of #live. */
  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#live.length) {
      this.#live.splice(0, this.#head);
      this.#head = 0;
    }
  }

  /** The oldest message held, taken out; undefined when none is. */
  shift(): HeldMessage | undefined {
    const first = this.#held.entries().next();
    if (first.done) return undefined;
    const [key, message] = first.value;
    this.#held.delete(key);
    if (key.startsWith('l')) this.#head += 1; // the oldest live key is this one: live keys are taken in order
    this.#compact();
    return message;
  }

  /** Drops everything held (the connection ended: the next connect re-publishes the retained tree). */
  clear(): void {
    this.#held.clear();
    this.#live.length = 0;
    this.#head = 0;
  }
}
