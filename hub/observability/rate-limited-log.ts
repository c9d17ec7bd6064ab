import type { Logger } from '../logger.js';

export interface RateLimitedLogOptions {
  /** The hub's logger, or the MQTT parts' (only warn is used). */
  log: Pick<Logger, 'warn'> | { warn(obj: object, msg: string): void };
  now: () => number;
  /** One line per cause per window, ms (default 10,000). */
  windowMs?: number;
}

interface Cause {
  /** When the last line of this cause was written. */
  loggedAt: number;
  /** Lines of this cause not written since. */
  suppressed: number;
}

/**
 * Bounded-rate warnings: at most one line per cause per window, the next one carrying `suppressed`, the
 * number left out since. A crowd of bad clients then costs a few log lines, not one per socket.
 */
export class RateLimitedLog {
  readonly #opts: Required<RateLimitedLogOptions>;
  readonly #causes = new Map<string, Cause>();

  constructor(opts: RateLimitedLogOptions) {
    this.#opts = { windowMs: 10_000, ...opts };
  }

  /** Logs `msg` at warn with `fields` unless `cause` was logged within the window; returns whether it was written. */
  warn(cause: string, fields: Record<string, unknown>, msg: string): boolean {
    const now = this.#opts.now();
    const seen = this.#causes.get(cause);
    if (seen && now - seen.loggedAt < this.#opts.windowMs) {
      seen.suppressed += 1;
      return false;
    }
    const suppressed = seen?.suppressed ?? 0;
    this.#causes.set(cause, { loggedAt: now, suppressed: 0 });
    this.#opts.log.warn(suppressed > 0 ? { ...fields, suppressed } : fields, msg);
    return true;
  }
}
