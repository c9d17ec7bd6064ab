import type { Duplex } from 'node:stream';

/** Bytes held in one turn beyond which they leave at once (the slow-client check reads writableLength). */
const FLUSH_BYTES = 16 * 1024;

/**
 * One socket write per client per event-loop turn. aedes writes every packet on its own (mqtt-packet corks
 * the stream and uncorks it a tick later), and its deliveries run one after another in separate ticks, so a
 * hub publishing a reading per device per turn paid one writev system call per packet per subscriber:
 * about a sixth of the hub's main thread at 20,000 readings/s (issue #17 §1). Here the first write of a turn
 * corks the connection and the turn's end (setImmediate) uncorks it: what aedes wrote meanwhile leaves in
 * one writev. A turn's writes past FLUSH_BYTES leave at once, so writableLength still measures what the
 * client has not read, and a close or destroy first lets the held bytes go (a DISCONNECT or the hub's last
 * publishes before the broker stops).
 */
export function coalesceWrites(conn: Duplex): void {
  let held = false;
  const release = (): void => {
    if (!held) return;
    held = false;
    conn.uncork();
  };
  const write = conn.write as (...a: unknown[]) => boolean;
  conn.write = function coalescedWrite(this: Duplex, ...args: unknown[]): boolean {
    if (!held && !conn.destroyed) {
      held = true;
      conn.cork();
      setImmediate(release);
    }
    const ok = write.apply(this, args);
    if (conn.writableLength >= FLUSH_BYTES) release();
    return ok;
  } as Duplex['write'];
  for (const name of ['end', 'destroy'] as const) {
    const original = conn[name] as (...a: unknown[]) => Duplex;
    conn[name] = function releasedFirst(this: Duplex, ...args: unknown[]): Duplex {
      release();
      return original.apply(this, args);
    } as never;
  }
}
