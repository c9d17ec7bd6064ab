import type { Socket } from 'node:net';
import type { TimerHandle, Timers } from '../timers.js';

/** Why the pacer closed a connection before its TLS handshake (label `reason` of hearth_connections_refused_total). */
export type PacerRefusal = 'queue_full' | 'queue_timeout';

export interface AcceptPacerOptions {
  /** Bounds of the number of TLS handshakes run at once; later connections wait their turn in arrival order. */
  minHandshakes: number;
  maxHandshakes: number;
  /** Connections waiting at most; one more is closed at once, before any TLS work (the cheapest refusal). */
  maxQueued: number;
  /** A connection that waited longer than this for its turn is closed unserved: its client has likely given up. */
  maxWaitMs: number;
  now: () => number;
  timers: Timers;
  onRefused: (reason: PacerRefusal) => void;
}

/** While connections wait, the event loop's lag is probed this often and the handshake limit adjusted. */
export const PACER_TICK_MS = 50;
/** Lag below which the limit grows by an eighth per tick: the main thread has room for more handshakes. */
export const PACER_LAG_LOW_MS = 20;
/** Lag above which the limit shrinks by a quarter: handshakes wait on the main thread, not on their peers. */
export const PACER_LAG_HIGH_MS = 100;

interface Waiting {
  socket: Socket;
  since: number;
  start: (socket: Socket) => void;
}

/**
 * Accept pacing for the HTTPS port. Accepting is cheap, a TLS handshake is not: when a whole fleet
 * reconnects at once, starting every handshake together makes each take seconds, many hit the handshake
 * timeout and all their work is wasted, then their retries pile on (what made 10,000 devices take 79 s to
 * return). The pacer runs a limited number at a time and keeps the rest accepted but unread, so the
 * kernel's accept queue never overflows (a dropped SYN costs the client a 1-3-7 s retransmission) and every
 * handshake started finishes quickly. The limit follows the main thread's lag while connections wait: a
 * handshake mostly waits on its peer, so a fixed small limit would cap the rate at limit / round trip, and a
 * large one is the stampede again; the lag tells which of the two is happening.
 */
export class AcceptPacer {
  readonly #o: AcceptPacerOptions;
  readonly #queue: Waiting[] = [];
  #head = 0;
  /** Sockets whose handshake runs, by `address|port` (the TLS socket's key at secureConnection). */
  readonly #running = new Map<string, Socket>();
  /** Each running socket's key, taken at start: a closed socket may no longer know its peer. */
  readonly #keys = new WeakMap<Socket, string>();
  #limit: number;
  #probe: TimerHandle | undefined;
  #probeAt = 0;
  /** While held (the hub still starting), every connection waits and none times out. */
  #held = false;

  constructor(opts: AcceptPacerOptions) {
    this.#o = opts;
    this.#limit = opts.minHandshakes;
  }

  /** Handshakes allowed at once now, within [minHandshakes, maxHandshakes]. */
  get limit(): number {
    return this.#limit;
  }

  /** Handshakes running now. */
  get running(): number {
    return this.#running.size;
  }

  /** Connections waiting for a handshake slot now. */
  get queued(): number {
    return this.#queue.length - this.#head;
  }

  /**
   * Holds every new connection in the queue, unread, until release(): a restarting hub listens before its
   * other parts start, so its fleet's connections wait in line rather than being refused, which would push
   * each device's backoff [FP-10.6] one doubling further (what kept 10,000 devices away for 30 s).
   */
  hold(): void {
    this.#held = true;
  }

  /** Ends hold(): the connections held start their wait now (maxWaitMs counts from here) and are served in order. */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    const now = this.#o.now();
    for (let i = this.#head; i < this.#queue.length; i++) this.#queue[i]!.since = now;
    this.#next();
    if (this.queued > 0) this.#armProbe();
  }

  /** A new connection (admitted by the guard): `start` wraps it in TLS now, or once a slot frees; or it is refused. */
  offer(socket: Socket, start: (socket: Socket) => void): void {
    if (!this.#held && this.#running.size < this.#limit && this.queued === 0) return this.#start({ socket, since: 0, start });
    if (this.queued >= this.#o.maxQueued) return this.#refuse(socket, 'queue_full');
    if (!this.#held) this.#armProbe();
    // Not paused: a paused socket's handle stays stopped under TLS, which then stalls. Not flowing either, so
    // its ClientHello waits in the socket's buffer (far below highWaterMark), and TLS picks it up from there.
    this.#queue.push({ socket, since: this.#o.now(), start });
  }

  /** A handshake finished (secureConnection): its slot goes to the next connection waiting. */
  handshakeDone(tlsSocket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): void {
    const socket = this.#running.get(keyOf(tlsSocket));
    if (socket) this.#release(socket);
  }

  /** Adjusts the limit to the event loop's lag (ms) and starts what it now allows; the probe calls it every tick. */
  adjust(lagMs: number): void {
    const { minHandshakes: min, maxHandshakes: max } = this.#o;
    if (lagMs <= PACER_LAG_LOW_MS) this.#limit = Math.min(max, this.#limit + Math.max(1, this.#limit >> 3));
    else if (lagMs >= PACER_LAG_HIGH_MS) this.#limit = Math.max(min, (this.#limit * 3) >> 2);
    this.#next();
  }

  /**
   * A handshake timed out: its peer could not keep up with the handshakes running (a shared uplink, or a
   * load generator's CPU), so fewer run at once, as when the main thread lags.
   */
  handshakeTimedOut(): void {
    this.#limit = Math.max(this.#o.minHandshakes, (this.#limit * 3) >> 2);
  }

  /** Stops the lag probe and closes the connections still waiting (no server tracks them before TLS). */
  stop(): void {
    if (this.#probe !== undefined) this.#o.timers.clearTimeout(this.#probe);
    this.#probe = undefined;
    for (let i = this.#head; i < this.#queue.length; i++) this.#queue[i]!.socket.destroy();
    this.#queue.length = 0;
    this.#head = 0;
  }

  /** Probes only while connections wait: an idle or lightly used port pays nothing. */
  #armProbe(): void {
    if (this.#probe !== undefined) return;
    this.#probeAt = this.#o.now() + PACER_TICK_MS;
    this.#probe = this.#o.timers.setTimeout(() => {
      this.#probe = undefined;
      this.adjust(Math.max(0, this.#o.now() - this.#probeAt));
      if (this.queued > 0 && !this.#held) this.#armProbe();
    }, PACER_TICK_MS);
  }

  #start(w: Waiting): void {
    const socket = w.socket;
    const key = keyOf(socket);
    this.#keys.set(socket, key);
    this.#running.set(key, socket);
    // A handshake that fails or times out ends the raw socket too: its slot is freed either way.
    socket.once('close', () => this.#release(socket));
    w.start(socket);
  }

  #release(socket: Socket): void {
    const key = this.#keys.get(socket);
    if (key === undefined || this.#running.get(key) !== socket) return;
    this.#running.delete(key);
    this.#next();
  }

  #next(): void {
    if (this.#held) return;
    const now = this.#o.now();
    while (this.#running.size < this.#limit && this.#head < this.#queue.length) {
      const w = this.#queue[this.#head]!;
      this.#queue[this.#head++] = undefined as unknown as Waiting;
      if (w.socket.destroyed) continue; // Its client gave up while it waited: no work done, none owed.
      if (now - w.since > this.#o.maxWaitMs) {
        this.#refuse(w.socket, 'queue_timeout');
        continue;
      }
      this.#start(w);
    }
    // Compact now and then rather than shift() per connection (O(n) each on a long queue).
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#head);
      this.#head = 0;
    }
  }

  #refuse(socket: Socket, reason: PacerRefusal): void {
    socket.destroy();
    this.#o.onRefused(reason);
  }
}

/** Unique among open connections; both the raw socket and its TLS socket answer it while open. */
function keyOf(s: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string {
  return `${s.remoteAddress ?? ''}|${s.remotePort ?? ''}`;
}
