import { Readable } from 'node:stream';
import { FilterSet } from './filter-set.js';

/** The two methods of an aedes persistence that SUBSCRIBE handling calls per filter. */
export interface SubscribePersistence {
  addSubscriptions(client: unknown, subs: unknown[]): Promise<unknown>;
  createRetainedStream(pattern: string): Readable;
  createRetainedStreamCombi(patterns: string[]): Readable;
}

/**
 * Makes a SUBSCRIBE of n filters cost O(n) instead of the O(n x retained) and O(n^2) of aedes 2.0.0-beta.1,
 * for any persistence (measured: one viewer's 10 SUBSCRIBEs of 1,000 filters held the loop 1.7 s at a time
 * with 500 retained topics). aedes calls `addSubscriptions(client, packet.subscriptions)` once per filter,
 * each time with the whole packet's list: the first call stores the list and the others share its promise.
 * Its retained lookup builds a matcher per filter and tests every retained topic against each, in one
 * synchronous run when nothing matches: here one pass over the retained set tests each topic once against
 * a trie of all the filters, streaming, so the loop is yielded between messages.
 */
export function patchPersistence(persistence: SubscribePersistence): void {
  const stored = new WeakMap<unknown[], Promise<unknown>>();
  const addSubscriptions = persistence.addSubscriptions.bind(persistence);
  persistence.addSubscriptions = (client, subs) => {
    let pending = stored.get(subs);
    if (!pending) stored.set(subs, (pending = addSubscriptions(client, subs)));
    return pending;
  };
  persistence.createRetainedStreamCombi = (patterns) => {
    const filters = new FilterSet();
    for (const p of patterns) filters.add(p);
    const all = persistence.createRetainedStream('#');
    return Readable.from(matching(all, filters), { objectMode: true });
  };
}

async function* matching(all: Readable, filters: FilterSet): AsyncGenerator<{ topic: string }> {
  for await (const packet of all as AsyncIterable<{ topic: string }>) if (filters.matches(packet.topic)) yield packet;
}
