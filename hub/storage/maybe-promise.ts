import type { MaybePromise } from './store-contract.js';

/** Whether `v` is a Promise (or any thenable): the PostgreSQL store's answer, where SQLite's is the value itself. */
export function isThenable<T>(v: MaybePromise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null | undefined)?.then === 'function';
}

/**
 * Applies `f` to `v` now when `v` is a value (SQLite: no microtask, no await on the synchronous path) or
 * once it resolves when it is a Promise (PostgreSQL).
 */
export function andThen<T, R>(v: MaybePromise<T>, f: (value: T) => MaybePromise<R>): MaybePromise<R> {
  return isThenable(v) ? v.then(f) : f(v);
}

/** Every value of `vs`, now when none is a Promise (SQLite), else once all resolve (PostgreSQL). */
export function allOf<T>(vs: readonly MaybePromise<T>[]): MaybePromise<T[]> {
  return vs.some(isThenable) ? Promise.all(vs) : (vs as T[]);
}
