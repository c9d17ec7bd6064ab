// Test support: parts answer as their store does (MaybePromise); on the SQLite store that is the value itself.
import { isThenable } from '../storage/maybe-promise.js';
import type { MaybePromise } from '../storage/store-contract.js';

/** The answer of a part on the SQLite store, typed as the value; throws if it is a Promise (a PostgreSQL store). */
export function sqliteNow<T>(answer: MaybePromise<T>): T {
  if (isThenable(answer)) throw new Error('expected the synchronous answer of the SQLite store, got a Promise');
  return answer;
}
