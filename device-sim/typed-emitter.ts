import { EventEmitter } from 'node:events';

/** EventEmitter whose listeners get exactly the payload type declared for their event. */
export class TypedEmitter<Events extends object> {
  readonly #emitter = new EventEmitter();

  /** Subscribes; returns the function that unsubscribes. */
  on<K extends keyof Events & string>(event: K, listener: (payload: Events[K]) => void): () => void {
    this.#emitter.on(event, listener);
    return () => this.#emitter.off(event, listener);
  }

  /** Resolves with the next payload of `event`. */
  once<K extends keyof Events & string>(event: K): Promise<Events[K]> {
    return new Promise((resolve) => this.#emitter.once(event, resolve));
  }

  emit<K extends keyof Events & string>(event: K, payload: Events[K]): void {
    this.#emitter.emit(event, payload);
  }
}
