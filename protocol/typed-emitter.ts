// One typed emitter for the hub (EventBus), the simulator (SimDevice) and the dashboard (DeviceStore): plain
// TypeScript, so it runs in Node and in the browser alike (no `node:events`).

type Listener<P> = (payload: P) => void;

/** Where an error thrown by a listener goes; the other listeners of the emit still run. */
export type ListenerErrorHandler = (error: unknown, event: string) => void;

/**
 * The default for a throwing listener: rethrown from a fresh microtask, so it is never lost (Node reports an
 * uncaught exception, a browser logs it) while the emit that called the listener still reaches every other one.
 */
export const rethrowListenerError: ListenerErrorHandler = (error) => {
  queueMicrotask(() => {
    throw error;
  });
};

/** An event emitter whose listeners get exactly the payload type declared for their event. */
export class TypedEmitter<Events extends object> {
  // Copy on write: on()/off() replace an event's array, so emit() walks a snapshot without copying it, and a
  // listener that unsubscribes (or subscribes) during an emit does not disturb that emit.
  readonly #listeners = new Map<keyof Events, readonly Listener<never>[]>();
  readonly #onListenerError: ListenerErrorHandler;

  constructor(options: { onListenerError?: ListenerErrorHandler } = {}) {
    this.#onListenerError = options.onListenerError ?? rethrowListenerError;
  }

  /** Subscribes; returns the function that unsubscribes (calling it twice is harmless). */
  on<K extends keyof Events>(event: K, listener: (payload: Events[K]) => void): () => void {
    const entry = listener as Listener<never>;
    this.#listeners.set(event, [...(this.#listeners.get(event) ?? []), entry]);
    let subscribed = true;
    return () => {
      if (subscribed) this.#off(event, entry);
      subscribed = false;
    };
  }

  /** Resolves with the next payload of `event`. */
  once<K extends keyof Events>(event: K): Promise<Events[K]> {
    return new Promise((resolve) => {
      const off = this.on(event, (payload) => {
        off();
        resolve(payload);
      });
    });
  }

  /** Calls every listener of `event` in subscription order; a listener that throws is reported, not fatal to the rest. */
  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const listeners = this.#listeners.get(event) as readonly Listener<Events[K]>[] | undefined;
    if (listeners === undefined) return;
    for (let i = 0; i < listeners.length; i++) {
      try {
        listeners[i]!(payload);
      } catch (error) {
        this.#onListenerError(error, String(event));
      }
    }
  }

  /** Whether anyone listens, so a hot path can skip building a payload nobody reads. */
  has<K extends keyof Events>(event: K): boolean {
    return this.#listeners.has(event);
  }

  /** Removes one subscription of `entry` (the newest, should the same function be subscribed twice). */
  #off(event: keyof Events, entry: Listener<never>): void {
    const listeners = this.#listeners.get(event);
    const at = listeners?.lastIndexOf(entry) ?? -1;
    if (listeners === undefined || at === -1) return;
    const rest = [...listeners.slice(0, at), ...listeners.slice(at + 1)];
    if (rest.length === 0) this.#listeners.delete(event);
    else this.#listeners.set(event, rest);
  }
}
