import type { Role } from '../auth/user-store.js';
import type { Topics } from './topics.js';

/**
 * Who may publish and subscribe what on the embedded broker. Only the hub writes state, availability,
 * discovery and bridge topics (it publishes through the broker directly, past this check); clients may
 * only write commands, and Home Assistant its own birth/will topic.
 */
export class Acl {
  readonly #topics: Topics;

  constructor(topics: Topics) {
    this.#topics = topics;
  }

  /** Subscriptions: any filter for every role, except `$`-topics (the broker's `$SYS` tree), admin only. */
  canSubscribe(role: Role, filter: string): boolean {
    if (filter.startsWith('$')) return role === 'admin';
    return true;
  }

  /** Publishes: admin and integration to `<base>/<device>/set/<command>` and `<prefix>/status`; viewer nothing. */
  canPublish(role: Role, topic: string): boolean {
    if (role === 'viewer') return false;
    return this.#topics.parse(topic) !== null || topic === this.#topics.discoveryStatus();
  }
}
