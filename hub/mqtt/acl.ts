import type { Role } from '../auth/user-store.js';
import { AclFile, type AclFileSource } from './acl-file.js';
import type { Topics } from './topics.js';

/** A connected client as the ACL sees it: its user (null: anonymous), client id and role. */
export interface AclSubject {
  user: string | null;
  clientId: string;
  role: Role;
}

/**
 * Who may publish and subscribe what on the embedded broker: one broker for the whole home (issue #11 §2).
 * The hub's namespace (`<base>/#` and the discovery configs of Hearth's own devices) is written only by the
 * hub, which publishes through the broker directly, past this check; clients write there only commands,
 * bridge requests and Home Assistant's birth topic. Outside it, admin and integration read and write any
 * topic (retained included) and viewer reads. `$`-topics: admin reads, nobody writes. An ACL file refines
 * this per user: a client gets what its role allows and the file grants.
 */
export class Acl {
  readonly #topics: Topics;
  readonly #source: Pick<AclFileSource, 'current' | 'refresh'> | null;

  constructor(topics: Topics, rules: AclFile | AclFileSource | null = null) {
    this.#topics = topics;
    this.#source = rules instanceof AclFile ? { current: () => rules, refresh: () => undefined } : rules;
  }

  /** Whether delivery needs a per-message check (canRead): only an ACL file can refuse inside a granted filter. */
  get checksDelivery(): boolean {
    return this.#source !== null;
  }

  /** Picks up a changed ACL file (the broker calls it at each CONNECT). */
  refresh(): void {
    this.#source?.refresh();
  }

  get #file(): AclFile | null {
    return this.#source?.current() ?? null;
  }

  /** True for a topic of the hub's namespace: its base tree and the discovery configs of its devices and itself. */
  isHubTopic(topic: string): boolean {
    const base = this.#topics.base;
    if (topic === base || topic.startsWith(`${base}/`)) return true;
    const prefix = `${this.#topics.discoveryPrefix}/`;
    if (!topic.startsWith(prefix)) return false;
    // <prefix>/<component>/<node_id>/...: Hearth's node ids are hearth_<device> and hearth_bridge_<base>.
    return topic.slice(prefix.length).split('/')[1]?.startsWith('hearth_') ?? false;
  }

  /** True for a topic the hub reads from clients (command, bridge request, HA status): never retained. */
  isInbound(topic: string): boolean {
    return this.#topics.parse(topic) !== null;
  }

  /** SUBSCRIBE: any filter but `$`-topics (the broker's `$SYS` tree, admin only), then the ACL file. */
  canSubscribe(who: AclSubject, filter: string): boolean {
    if (filter.startsWith('$') && who.role !== 'admin') return false;
    return this.#file?.canSubscribe(who, filter) ?? true;
  }

  /** Delivery of one message to a subscriber (the hub's too): the ACL file's read rules, when there is one. */
  canRead(who: AclSubject, topic: string): boolean {
    return this.#file?.canRead(who, topic) ?? true;
  }

  /**
   * PUBLISH: viewer nothing; admin and integration commands (`<base>/<device>/set/<command>`), bridge
   * requests and `<prefix>/status` in the hub's namespace, and any topic outside it but `$`-topics. Which
   * bridge verbs a role may use is the bridge API's to answer (an error response names the missing role).
   */
  canPublish(who: AclSubject, topic: string): boolean {
    if (who.role === 'viewer' || topic.startsWith('$')) return false;
    if (this.isHubTopic(topic) && !this.isInbound(topic)) return false;
    return this.#file?.canWrite(who, topic) ?? true;
  }
}
