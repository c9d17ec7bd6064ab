import type { Logger } from './logger.js';

/** One part of the hub the composition root starts and stops. */
export interface Part {
  readonly name: string;
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
}

/** A Part named `name` whose start and stop are `target`'s. */
export function part(name: string, target: { start(): unknown; stop(): unknown }): Part {
  return { name, start: async () => void (await target.start()), stop: async () => void (await target.stop()) };
}

/**
 * Starts parts in order and stops them in reverse. When a part fails to start, the failure is logged with
 * the part's name, the parts already started are stopped (newest first), and start() rejects.
 */
export class Lifecycle {
  readonly #log: Logger;
  readonly #started: Part[] = [];

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Starts each part after the previous one started. */
  async start(parts: readonly Part[]): Promise<void> {
    for (const part of parts) {
      try {
        await part.start();
      } catch (err) {
        this.#log.error({ part: part.name, err: (err as Error).message }, `${part.name} failed to start; stopping the parts already started`);
        await this.stop();
        throw err;
      }
      this.#started.push(part);
    }
  }

  /** Stops the started parts, newest first (a part that fails to stop is logged, the rest still stop); false if none ran. */
  async stop(): Promise<boolean> {
    const any = this.#started.length > 0;
    for (let part = this.#started.pop(); part; part = this.#started.pop()) {
      try {
        await part.stop();
      } catch (err) {
        this.#log.error({ part: part.name, err: (err as Error).message }, `${part.name} failed to stop`);
      }
    }
    return any;
  }
}
