import { validFilter } from './mqtt-strings.js';

/** Caps on a client's subscriptions. */
export interface SubscriptionCaps {
  /** Distinct filters one connection may hold, restored session included. */
  maxPerClient: number;
  /** Filters one SUBSCRIBE may carry; the ones past it are refused. */
  maxPerSubscribe: number;
}

/** Why one filter of a SUBSCRIBE is refused by the limits. */
export type SubscriptionRefusal = 'filter_invalid' | 'per_subscribe' | 'per_client';

interface Sub {
  topic: string;
}

/**
 * The subscription caps, O(1) per filter: `onPacket` sees each parsed packet before aedes does and marks the
 * filters of a SUBSCRIBE past `maxPerSubscribe`; `check` answers each filter aedes authorizes, and `held`
 * counts the filters a connection was granted (UNSUBSCRIBE gives them back).
 */
export class SubscriptionLimits {
  readonly #caps: SubscriptionCaps;
  readonly #held = new WeakMap<object, Set<string>>();
  readonly #pastCap = new WeakSet<Sub>();
  /** Filters refused by the limits or the ACL: a persistent session does not store them. */
  readonly #refused = new WeakSet<object>();

  constructor(caps: SubscriptionCaps) {
    this.#caps = caps;
  }

  /** A packet of `client` as parsed, before aedes handles it; cheap for everything but SUBSCRIBE/UNSUBSCRIBE. */
  onPacket(client: object, packet: { cmd: string; subscriptions?: Sub[]; unsubscriptions?: string[] }): void {
    if (packet.cmd === 'subscribe') {
      const subs = packet.subscriptions ?? [];
      for (let i = this.#caps.maxPerSubscribe; i < subs.length; i++) this.#pastCap.add(subs[i]!);
    } else if (packet.cmd === 'unsubscribe') {
      const held = this.#held.get(client);
      if (held) for (const filter of packet.unsubscriptions ?? []) held.delete(filter);
    }
  }

  /** Why `sub` may not be subscribed before the ACL is asked, or null [MQTT-4.7.1]. */
  precheck(sub: Sub): SubscriptionRefusal | null {
    if (this.#pastCap.has(sub)) return 'per_subscribe';
    return validFilter(sub.topic) ? null : 'filter_invalid';
  }

  /** After the ACL granted `sub`: counts it towards the client's cap, or refuses it ('per_client'). */
  grant(client: object, sub: Sub): SubscriptionRefusal | null {
    let held = this.#held.get(client);
    if (!held) this.#held.set(client, (held = new Set()));
    if (held.has(sub.topic)) return null;
    if (held.size >= this.#caps.maxPerClient) return 'per_client';
    held.add(sub.topic);
    return null;
  }

  /** Marks a filter of a SUBSCRIBE as refused (by the limits or the ACL). */
  refused(sub: object): void {
    this.#refused.add(sub);
  }

  /** Whether a filter of a SUBSCRIBE may be stored in a persistent session (not refused). */
  keep(sub: object): boolean {
    return !this.#refused.has(sub) && !this.#pastCap.has(sub as Sub);
  }

  /** Filters `client` holds now. */
  held(client: object): number {
    return this.#held.get(client)?.size ?? 0;
  }
}
