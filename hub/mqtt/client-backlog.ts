import type { Duplex } from 'node:stream';

/** The aedes 2.0.0-beta.1 client internals this hooks (pinned exactly; BrokerGuard.handle checks them). */
interface BackloggedClient {
  conn: Duplex;
  waitForDrain(done: (err: Error | null, client: unknown) => void): void;
}

/**
 * Keeps one slow reader from holding up every other client: aedes waits for a client's socket to drain before
 * it completes a delivery, and its emitter runs at most 100 deliveries at once, so a subscriber that stops
 * reading (or a starved process) stalled the whole broker, the hub's publishes included. Here a delivery
 * completes at once while the client's unsent bytes stay within `maxBytes` (they wait in its socket's
 * buffer); a client beyond that is disconnected once and `onOverflow` told, as a QoS 0 backlog that large is
 * of no use to it.
 */
export function clientBacklog(client: unknown, maxBytes: number, onOverflow: (backlogBytes: number) => void): void {
  const c = client as BackloggedClient;
  let overflowed = false;
  c.waitForDrain = (done) => {
    const backlog = c.conn.writableLength;
    if (backlog > maxBytes && !overflowed) {
      overflowed = true;
      onOverflow(backlog);
      c.conn.destroy();
    }
    setImmediate(done, null, client);
  };
}
