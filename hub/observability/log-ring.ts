import type { Logger } from '../logger.js';

/** One warn or error line of the hub's log, as GET /api/hub/logs answers it. */
export interface LogLine {
  ts: number;
  level: 'warn' | 'error';
  msg: string;
  /** The line's fields (error codes, addresses, ids), as logged. */
  fields: Record<string, unknown>;
}

/** The dashboard shows the recent ones; older lines are in the hub's own log output. */
export const DEFAULT_LOG_LINES = 200;

type LogFn = (...args: unknown[]) => void;

/**
 * A bounded in-memory ring of the hub's warn and error log lines, for the admin's activity feed. `wrap()`
 * returns a Logger that writes through to the real one and records its warnings and errors here.
 */
export class LogRing {
  readonly #max: number;
  readonly #now: () => number;
  readonly #lines: LogLine[] = [];
  #seq = 0;

  constructor(opts: { max?: number; now?: () => number } = {}) {
    this.#max = opts.max ?? DEFAULT_LOG_LINES;
    this.#now = opts.now ?? Date.now;
  }

  /** A Logger that logs to `log` and keeps its warn and error lines (children included) in this ring. */
  wrap(log: Logger, bindings: Record<string, unknown> = {}): Logger {
    const record = (level: 'warn' | 'error', fn: LogFn): LogFn => (...args: unknown[]) => {
      this.#record(level, args, bindings);
      fn(...args);
    };
    return {
      debug: log.debug.bind(log),
      info: log.info.bind(log),
      warn: record('warn', log.warn.bind(log) as LogFn),
      error: record('error', log.error.bind(log) as LogFn),
      child: ((childBindings: Record<string, unknown>, options?: unknown) =>
        this.wrap((log.child as (b: Record<string, unknown>, o?: unknown) => Logger)(childBindings, options), { ...bindings, ...childBindings })) as Logger['child'],
    } as Logger;
  }

  /** The kept lines, newest first; at most `limit`. */
  lines(limit = this.#max): LogLine[] {
    return this.#lines.slice(-limit).reverse();
  }

  /** How many warn/error lines were logged since start (kept or not). */
  get total(): number {
    return this.#seq;
  }

  #record(level: 'warn' | 'error', args: unknown[], bindings: Record<string, unknown>): void {
    // pino's call shapes: (msg), (obj, msg), (err, msg).
    const [first, second] = args;
    let msg = '';
    let fields: Record<string, unknown> = { ...bindings };
    if (typeof first === 'string') msg = first;
    else if (first instanceof Error) {
      fields.err = first.message;
      msg = typeof second === 'string' ? second : first.message;
    } else if (first && typeof first === 'object') {
      fields = { ...fields, ...(first as Record<string, unknown>) };
      if (typeof second === 'string') msg = second;
    }
    this.#seq++;
    this.#lines.push({ ts: this.#now(), level, msg, fields: jsonSafe(fields) });
    if (this.#lines.length > this.#max) this.#lines.splice(0, this.#lines.length - this.#max);
  }
}

/** Fields as JSON would carry them; an unserialisable field becomes its text. */
function jsonSafe(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v instanceof Error) out[k] = v.message;
    else if (v === null || ['string', 'number', 'boolean'].includes(typeof v)) out[k] = v;
    else {
      try {
        out[k] = JSON.parse(JSON.stringify(v)) as unknown;
      } catch {
        out[k] = String(v);
      }
    }
  }
  return out;
}
