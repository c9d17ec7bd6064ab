import type { Role } from '../auth/user-store.js';
import type { Topics } from './topics.js';

/**
 * Who may publish and subscribe what on the embedded broker. Only the hub writes state, availability,
 * discovery and bridge topics (it publishes through the broker directly, past this check); clients may
 * only write commands and bridge requests, and Home Assistant its own birth/will topic.
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

  /**
   * Publishes: admin and integration to `<base>/<device>/set/<command>`, `<base>/bridge/request/<verb>` and
   * `<prefix>/status`; viewer nothing. Which verbs a role may use is the bridge API's to answer (an error
   * response names the missing role), so a refused request does not cost the client its connection.
   */
  canPublish(role: Role, topic: string): boolean {
    if (role === 'viewer') return false;
    return this.#topics.parse(topic) !== null;
  }
}
