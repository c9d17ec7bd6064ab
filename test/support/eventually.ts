// The one polling helper of the tests (hub, simulator, MQTT bridge, dashboard): a bounded wait for a condition,
// never a sleep standing in for one.

export interface EventuallyOptions {
  /** Give up after this long (default 5000 ms). */
  timeoutMs?: number;
  /** What is awaited, for the timeout message of a check that kept returning false (lazily, if a function). */
  what?: string | (() => string);
}

const POLL_MS = 10;

/**
 * Retries `check` until it neither throws nor returns false (bounded), for state that settles asynchronously;
 * resolves with its result. On timeout it rethrows the check's last error, or names `what` it waited for.
 * A number for `options` is the timeout.
 */
export async function eventually<T>(check: () => T | Promise<T>, options: number | EventuallyOptions = {}): Promise<Exclude<T, false>> {
  const { timeoutMs = 5000, what } = typeof options === 'number' ? { timeoutMs: options } : options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let failure: unknown = null;
    try {
      const result = await check();
      if (result !== false) return result as Exclude<T, false>;
    } catch (err) {
      failure = err;
    }
    if (Date.now() > deadline) {
      if (failure !== null) throw failure;
      const awaited = typeof what === 'function' ? what() : (what ?? String(check));
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${awaited}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
