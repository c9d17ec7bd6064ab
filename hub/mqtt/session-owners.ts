// Which user owns each client id's session on the embedded broker (issue #11 §2): a CONNECT with a client
// id in use, connected or kept as a persistent session, takes that session over [MQTT-3.1.4-2] only when
// it comes from the same user; otherwise it is refused and the owner keeps its session.

interface Owner<C> {
  user: string | null;
  /** The client holding the id now; null while a persistent session waits for its owner. */
  client: C | null;
  /** The session outlives the connection (3.1.1 clean session off, MQTT 5 Session Expiry Interval > 0). */
  persistent: boolean;
}

/** Client id -> the user owning its session, for the broker's takeover check. */
export class SessionOwners<C> {
  readonly #owners = new Map<string, Owner<C>>();

  /** True when `user` may take the session of `clientId`: nobody owns it, or the same user does. */
  mayTake(clientId: string, user: string | null): boolean {
    const owner = this.#owners.get(clientId);
    return owner === undefined || owner.user === user;
  }

  /** Records `client` of `user` as the holder of `clientId` (after it was accepted). */
  take(clientId: string, user: string | null, client: C, persistent: boolean): void {
    this.#owners.set(clientId, { user, client, persistent });
  }

  /** The holder disconnected: a persistent session stays owned, a clean one is released. */
  release(clientId: string, client: C): void {
    const owner = this.#owners.get(clientId);
    // A takeover closes the old connection after the new one took the id: that close releases nothing.
    if (!owner || owner.client !== client) return;
    if (owner.persistent) owner.client = null;
    else this.#owners.delete(clientId);
  }

  /** The broker dropped the session (expired): the id is free again. */
  expire(clientId: string): void {
    if (this.#owners.get(clientId)?.client === null) this.#owners.delete(clientId);
  }

  /** Ids with an owner (for tests and stats). */
  get size(): number {
    return this.#owners.size;
  }
}
