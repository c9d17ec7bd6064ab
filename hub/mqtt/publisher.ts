/**
 * Where the topic tree is published: the embedded broker or an external one. The tree's logic (HubMirror)
 * is written once against this.
 */
export interface Publisher {
  /** Sends one message at QoS 0; resolves once handed over (or dropped while disconnected from a broker). */
  publish(topic: string, payload: string, retain: boolean): Promise<void>;
}
