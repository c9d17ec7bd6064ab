import { Readable } from 'node:stream';
import { FilterSet } from './filter-set.js';

/** The methods of an aedes persistence that SUBSCRIBE handling and session restore call. */
export interface SubscribePersistence {
  addSubscriptions(client: unknown, subs: object[]): Promise<unknown>;
  subscriptionsByClient(client: unknown): Promise<object[]>;
  createRetainedStream(pattern: string): Readable;
  createRetainedStreamCombi(patterns: string[]): Readable;
}

export interface PersistencePatchOptions {
  /** Whether a filter of a SUBSCRIBE is stored in the session: false for the ones refused. Default: all. */
  keep?: (sub: object) => boolean;
  /** Most filters a persistent session restores at CONNECT. Default: all. */
  maxRestored?: number;
}

/**
 * Makes a SUBSCRIBE of n filters cost O(n) instead of the O(n x retained) and O(n^2) of aedes 2.0.0-beta.1,
 * for any persistence (measured: one viewer's 10 SUBSCRIBEs of 1,000 filters held the loop 1.7 s at a time
 * with 500 retained topics). aedes calls `addSubscriptions(client, packet.subscriptions)` once per filter,
 * each time with the whole packet's list: the first call stores the list and the others share its promise.
 * Refused filters (opts.keep) are not stored, and a restored session is capped (opts.maxRestored).
 * Its retained lookup builds a matcher per filter and tests every retained topic against each, in one
 * synchronous run when nothing matches: here one pass over the retained set tests each topic once against
 * a trie of all the filters, streaming, and the event loop gets a turn every BATCH messages.
 */
export function patchPersistence(persistence: SubscribePersistence, opts: PersistencePatchOptions = {}): void {
  const stored = new WeakMap<object[], Promise<unknown>>();
  const addSubscriptions = persistence.addSubscriptions.bind(persistence);
  const keep = opts.keep;
  persistence.addSubscriptions = (client, subs) => {
    let pending = stored.get(subs);
    if (!pending) {
      // aedes stores the packet's whole list, refused filters included; a microtask later every filter of
      // the packet has been through the (synchronous) checks, and only the ones not refused are stored.
      pending = Promise.resolve().then(() => {
        const kept = keep ? subs.filter(keep) : subs;
        return kept.length > 0 ? addSubscriptions(client, kept) : undefined;
      });
      stored.set(subs, pending);
    }
    return pending;
  };
  const max = opts.maxRestored;
  if (max !== undefined) {
    const byClient = persistence.subscriptionsByClient.bind(persistence);
    // A session restores its filters in one SUBSCRIBE-sized run at CONNECT: never more than the cap.
    persistence.subscriptionsByClient = async (client) => (await byClient(client)).slice(0, max);
  }
  const combi = persistence.createRetainedStreamCombi.bind(persistence);
  persistence.createRetainedStreamCombi = (patterns) => {
    // Measured with 20,000 retained topics: aedes' own pass costs ~2 µs a topic per filter, this one ~6 µs.
    // ... but it serves `$` topics to `#` and `+/...` [MQTT-4.7.2-1], which the FilterSet does not.
    if (patterns.length <= FEW_FILTERS && !patterns.some(startsWithWildcard)) return combi(patterns);
    const filters = new FilterSet();
    for (const p of patterns) filters.add(p);
    return matching(persistence.createRetainedStream('#'), filters);
  };
}

/** Up to this many filters in a SUBSCRIBE, aedes' per-filter retained lookup is the cheaper one. */
const FEW_FILTERS = 2;

const startsWithWildcard = (p: string): boolean => p.startsWith('+') || p.startsWith('#');

/** Retained messages tested in one turn of the event loop: the pass never holds it for the whole set. */
const BATCH = 256;

/** The messages of `all` whose topic `filters` match, read synchronously BATCH at a time (for-await costs ~25 µs a message). */
function matching(all: Readable, filters: FilterSet): Readable {
  let scheduled = false;
  const pump = (): void => {
    scheduled = false;
    for (let n = 0; n < BATCH; n++) {
      const packet = all.read() as { topic: string } | null;
      if (packet === null) return; // 'readable' or 'end' comes next
      if (filters.matches(packet.topic) && !out.push(packet)) return; // read() comes when the consumer drains
    }
    if (!scheduled) {
      scheduled = true;
      setImmediate(pump);
    }
  };
  const out = new Readable({ objectMode: true, read: pump, destroy: (err, cb) => (all.destroy(), cb(err)) });
  all.on('readable', pump);
  all.once('end', () => out.push(null));
  all.once('error', (err) => out.destroy(err));
  return out;
}
