import { DEFAULT_MAX_SESSIONS } from './session-store.js';

/** Failed password checks per key within FAILURE_WINDOW_MS before further attempts are refused unchecked. */
export const MAX_FAILURES = 10;
export const FAILURE_WINDOW_MS = 60_000;

/**
 * Failed password checks per key (a client address, a user name) in a fixed window: after MAX_FAILURES
 * within FAILURE_WINDOW_MS the key is blocked until the window ends. The one policy of dashboard sign-in
 * (per address) and MQTT CONNECT (per address and per user); each attempt already costs one scrypt.
 */
export class PasswordThrottle {
  readonly #now: () => number;
  readonly #byKey = new Map<string, { count: number; since: number }>();

  constructor(now: () => number) {
    this.#now = now;
  }

  /** Milliseconds until `key` may try again; 0 when it may now. */
  blockedFor(key: string): number {
    const entry = this.#byKey.get(key);
    if (!entry) return 0;
    const left = entry.since + FAILURE_WINDOW_MS - this.#now();
    if (left <= 0) {
      this.#byKey.delete(key);
      return 0;
    }
    return entry.count >= MAX_FAILURES ? left : 0;
  }

  /** Counts one failed attempt of `key`. */
  record(key: string): void {
    const now = this.#now();
    const entry = this.#byKey.get(key);
    if (!entry || now - entry.since >= FAILURE_WINDOW_MS) {
      // Bounded: drop stale entries before adding one, so scanning addresses cannot fill memory.
      if (this.#byKey.size >= DEFAULT_MAX_SESSIONS) {
        for (const [k, e] of this.#byKey) if (now - e.since >= FAILURE_WINDOW_MS) this.#byKey.delete(k);
        if (this.#byKey.size >= DEFAULT_MAX_SESSIONS) this.#byKey.clear();
      }
      this.#byKey.set(key, { count: 1, since: now });
    } else {
      entry.count++;
    }
  }

  /** Forgets the failures of `key` (after a success). */
  clear(key: string): void {
    this.#byKey.delete(key);
  }
}
