import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock, TimerHandle } from './clock.js';
import type { OutboxSnapshot } from './outbox.js';

const STATE_VERSION = 1;

interface StateFile {
  version: number;
  deviceId: string;
  savedAt: number;
  outbox: OutboxSnapshot;
}

let tmpCounter = 0;

/**
 * Persists a device's delivery state (buffer, next seq, last ACK) under --state-dir so a restarted
 * simulator resumes where it stopped. Saves are debounced and atomic: a temp file renamed over the old.
 */
export class StateStore {
  readonly file: string;
  readonly #dir: string;
  readonly #deviceId: string;
  readonly #clock: Clock;
  readonly #debounceMs: number;
  readonly #snapshot: () => OutboxSnapshot;
  #timer: TimerHandle | null = null;
  #dirty = false;
  #writing: Promise<void> = Promise.resolve();
  /** Completed saves (for stats and tests). */
  saves = 0;
  /** The last save's failure, if the last save failed (the state stays dirty and is retried). */
  error: Error | null = null;

  constructor(dir: string, deviceId: string, clock: Clock, debounceMs: number, snapshot: () => OutboxSnapshot) {
    this.#dir = dir;
    this.#deviceId = deviceId;
    this.file = join(dir, `device-${deviceId}.json`);
    this.#clock = clock;
    this.#debounceMs = debounceMs;
    this.#snapshot = snapshot;
  }

  /** Reads the saved state; null when there is none. Throws when the file exists but is not ours. */
  async load(): Promise<OutboxSnapshot | null> {
    await mkdir(this.#dir, { recursive: true });
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    const parsed = JSON.parse(text) as StateFile;
    if (parsed.version !== STATE_VERSION || parsed.deviceId !== this.#deviceId) {
      throw new Error(`${this.file}: not a version ${STATE_VERSION} state file of device ${this.#deviceId}`);
    }
    return parsed.outbox;
  }

  /** Notes a change; a save follows within the debounce delay. */
  markDirty(): void {
    this.#dirty = true;
    this.#timer ??= this.#clock.setTimeout(() => {
      this.#timer = null;
      void this.flush();
    }, this.#debounceMs);
  }

  /** Saves now if anything changed, after any save in progress; resolves once done (see `error`). */
  flush(): Promise<void> {
    if (this.#timer !== null) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = null;
    }
    this.#writing = this.#writing.then(async () => {
      if (!this.#dirty) return;
      this.#dirty = false;
      const state: StateFile = { version: STATE_VERSION, deviceId: this.#deviceId, savedAt: this.#clock.now(), outbox: this.#snapshot() };
      const tmp = `${this.file}.${process.pid}.${tmpCounter++}.tmp`;
      await writeFile(tmp, JSON.stringify(state));
      await rename(tmp, this.file);
      this.saves++;
      this.error = null;
    }).catch((err: unknown) => {
      this.#dirty = true;
      this.error = err instanceof Error ? err : new Error(String(err));
    });
    return this.#writing;
  }
}
