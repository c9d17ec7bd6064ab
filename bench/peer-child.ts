// bench/proc.ts's spawnNode, plus the moment a child's stdout is drained: 'exit' can come before the last
// lines are read, so a bench that reads a child's final line waits for 'close' instead.
import { spawnNode, type Child } from './proc.js';

export interface PeerChild extends Child {
  /** Resolves once the child exited and every line it printed is in `lines`. */
  closed: Promise<void>;
}

/** Spawns `node script args` as spawnNode does, with `closed`. */
export function spawnPeer(script: string, args: string[]): PeerChild {
  const child = spawnNode(script, args);
  const closed = new Promise<void>((resolve) => child.proc.once('close', () => resolve()));
  return Object.assign(child, { closed });
}

/** SIGTERM (or `signal`) unless already gone; resolves once it closed. */
export async function stopPeer(c: PeerChild | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!c) return;
  if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill(signal);
  await c.closed;
}
