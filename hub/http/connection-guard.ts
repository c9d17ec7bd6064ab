import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../logger.js';
import type { PacerRefusal } from './accept-pacer.js';
import { countOpenFiles, PROC_FD_DIR, raiseOpenFileLimit } from '../observability/open-files.js';
import type { RateLimitedLog } from '../observability/rate-limited-log.js';

/** Why the HTTPS port closed or refused a connection (label `reason` of hearth_connections_refused_total). */
export type RefusalReason = 'per_address' | 'open_files' | 'busy' | 'handshake_timeout' | 'idle_timeout' | PacerRefusal;

export interface ConnectionGuardOptions {
  /** Sockets one remote address may hold open at once. */
  maxPerAddress: number;
  /** Whether loopback addresses are capped too (a local reverse proxy would otherwise be one address). */
  capLoopback: boolean;
  /** Time from the end of the TLS handshake to the first request or upgrade, ms. */
  idleMs: number;
  /** Descriptor ceiling; 0: the process's soft RLIMIT_NOFILE. */
  maxOpenFiles: number;
  /** Descriptors kept spare below the ceiling: from ceiling - busyReserve on, busy() is true (0: never, and no near-limit lines). */
  busyReserve: number;
  /** http.busyOpenFilesPercent, kept for older configurations: below 100, busy from this share of the ceiling if that comes first. */
  busyPercent?: number;
  /** From ceiling - dropReserve on, new sockets are destroyed at accept (at least RESERVE_MIN). */
  dropReserve: number;
  /** Where open descriptors are counted; default /proc/self/fd. */
  fdDir?: string;
  now: () => number;
  /** Only info is used (the MQTT guard passes its MqttLogger). */
  log: Pick<Logger, 'info'> | { info(obj: object, msg: string): void };
  warn: RateLimitedLog;
  onRefused: (reason: RefusalReason) => void;
}

/** Descriptors always kept free below the ceiling: sockets past it are dropped before TLS (SQLite, logs, the WAL need some). */
export const RESERVE_MIN = 32;
/** Default of http.fdReserve: spare descriptors below the ceiling from which new connections are refused. */
export const DEFAULT_FD_RESERVE = 256;

/** The drop tier inside a busy reserve: its last quarter, at least RESERVE_MIN (the rest answers 503s). */
export function dropReserveOf(busyReserve: number): number {
  return Math.max(RESERVE_MIN, Math.floor(busyReserve / 4));
}
/** A fresh count of /proc/self/fd at most this often; in between, sockets opened and closed are added up. */
const SAMPLE_MS = 250;
/**
 * The same while the estimate is below half the busy threshold: reading /proc/self/fd with 10,000 sockets open
 * costs milliseconds, and every 250 ms it was 4% of the main thread while a fleet reconnected.
 */
const SAMPLE_FAR_MS = 5000;
/**
 * And near the threshold, samples at least this many times their own cost apart: at 19,000 sockets one read
 * of /proc/self/fd takes ~20 ms, and every 250 ms it was 8% of the main thread. Sockets opened and closed in
 * between are counted exactly; a sample only corrects for the other descriptors (files), which change slowly.
 */
const SAMPLE_COST_FACTOR = 50;

/**
 * The process's descriptor count between two samples: the last count plus the sockets every guard of the
 * process (the HTTPS port's and the MQTT listeners') opened and closed since. Shared, since the descriptor
 * table is the process's: a guard counting only its own sockets missed the other port's crowd for 5 s.
 */
interface FdEstimate {
  live: number;
  sampled: number;
  liveAtSample: number;
  sampledAt: number;
  /** What the last read of the descriptor directory took, ms. */
  costMs: number;
}
const ESTIMATES = new Map<string, FdEstimate>();

const isLoopback = (a: string) => a.startsWith('127.') || a === '::1' || a.startsWith('::ffff:127.');

/**
 * The crowd limits of the HTTPS port, all O(1) per connection: a per-address cap and a descriptor guard at
 * `connection` (before TLS), an idle timer from `secureConnection` to the first request, and the busy check
 * that turns new requests and upgrades away with 503 while descriptors run short.
 */
export class ConnectionGuard {
  readonly #o: ConnectionGuardOptions;
  readonly #perAddress = new Map<string, number>();
  readonly #idle = new WeakMap<Duplex, NodeJS.Timeout>();
  #limit = Infinity;
  #busyAt = Infinity;
  #dropAt = Infinity;
  readonly #fds: FdEstimate;
  /** Whether the last check found descriptors inside the busy reserve: its start and end are logged once each. */
  #near = false;

  constructor(opts: ConnectionGuardOptions) {
    this.#o = opts;
    const dir = opts.fdDir ?? PROC_FD_DIR;
    this.#fds = ESTIMATES.get(dir) ?? ESTIMATES.set(dir, { live: 0, sampled: 0, liveAtSample: 0, sampledAt: -Infinity, costMs: 0 }).get(dir)!;
  }

  /** Raises the soft open-file limit where allowed, logs the limits and fixes the thresholds. */
  start(): void {
    const { before, after, raised } = raiseOpenFileLimit();
    const soft = after?.soft ?? Infinity;
    this.#limit = this.#o.maxOpenFiles > 0 ? Math.min(this.#o.maxOpenFiles, soft) : soft;
    this.#busyAt = this.#o.busyReserve > 0 ? this.#limit - this.#o.busyReserve : Infinity;
    const percent = this.#o.busyPercent ?? 100;
    if (percent < 100) this.#busyAt = Math.min(this.#busyAt, Math.floor((this.#limit * percent) / 100));
    this.#dropAt = this.#limit - Math.max(RESERVE_MIN, this.#o.dropReserve);
    this.#fds.sampledAt = -Infinity;
    const fields = { soft: before?.soft ?? null, hard: before?.hard ?? null, raised, ceiling: this.#limit, busyAt: this.#busyAt, dropAt: this.#dropAt };
    this.#o.log.info(fields, before ? 'open-file limit' : 'open-file limit unknown (no /proc/self/limits): descriptor guard off');
  }

  /** The descriptor ceiling guarded (Infinity: unknown, guard off). */
  get ceiling(): number {
    return this.#limit;
  }

  /** Descriptors open now, as estimated (O(1) between samples). */
  get openFiles(): number {
    const now = this.#o.now();
    const f = this.#fds;
    const estimate = f.sampled + (f.live - f.liveAtSample);
    const every = estimate * 2 < Math.min(this.#busyAt, this.#dropAt) ? SAMPLE_FAR_MS : Math.max(SAMPLE_MS, SAMPLE_COST_FACTOR * f.costMs);
    // A clock behind the last sample's (another hub's in this process) samples anew rather than never. So does
    // an estimate below zero: a sample taken while destroyed sockets' 'close' events were still pending
    // counted them neither in the directory nor out of `live` (hearth_open_files read -500 after a storm).
    if (now - f.sampledAt >= every || now < f.sampledAt || estimate < 0) {
      const began = performance.now();
      f.sampled = countOpenFiles(this.#o.fdDir ?? PROC_FD_DIR) ?? 0;
      f.costMs = performance.now() - began;
      f.liveAtSample = f.live;
      f.sampledAt = now;
    }
    return f.sampled + (f.live - f.liveAtSample);
  }

  /** At `connection`, before TLS: counts the socket, or destroys it (false) over a cap. */
  admit(socket: Socket): boolean {
    const address = socket.remoteAddress ?? '';
    if (this.#limit !== Infinity && this.#nearLimit(this.openFiles) >= this.#dropAt) {
      return this.#drop(socket, 'open_files', { address, openFiles: this.openFiles, dropAt: this.#dropAt }, 'connection dropped: open descriptors near the limit');
    }
    const capped = this.#o.capLoopback || !isLoopback(address);
    const held = capped ? (this.#perAddress.get(address) ?? 0) : 0;
    if (capped && held >= this.#o.maxPerAddress) {
      return this.#drop(socket, 'per_address', { address, limit: this.#o.maxPerAddress }, 'connection refused: too many connections from one address');
    }
    if (capped) this.#perAddress.set(address, held + 1);
    this.#fds.live += 1;
    socket.once('close', () => {
      this.#fds.live -= 1;
      if (!capped) return;
      const n = (this.#perAddress.get(address) ?? 1) - 1;
      if (n > 0) this.#perAddress.set(address, n);
      else this.#perAddress.delete(address);
    });
    return true;
  }

  /** At `secureConnection`: the socket must send a request or an upgrade within idleMs. */
  watchIdle(socket: Duplex): void {
    const timer = setTimeout(() => {
      this.#idle.delete(socket);
      this.#drop(socket, 'idle_timeout', { address: (socket as Socket).remoteAddress }, 'connection closed: no request after the TLS handshake');
    }, this.#o.idleMs);
    timer.unref();
    this.#idle.set(socket, timer);
    socket.once('close', () => clearTimeout(timer));
  }

  /** A request or upgrade arrived on `socket`: its idle timer ends. */
  served(socket: Duplex): void {
    const timer = this.#idle.get(socket);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.#idle.delete(socket);
  }

  /** A TLS handshake did not finish in time (the tls server destroys the socket itself). */
  handshakeTimedOut(address: string | undefined): void {
    this.#o.onRefused('handshake_timeout');
    this.#o.warn.warn('handshake_timeout', { address }, 'connection closed: TLS handshake not finished in time');
  }

  /** True when new requests and upgrades should get 503 HUB_ERR_BUSY; counted and logged (bounded) when so. */
  busy(): boolean {
    if (this.#limit === Infinity) return false;
    const open = this.#nearLimit(this.openFiles);
    if (open < this.#busyAt) return false;
    this.#o.onRefused('busy');
    this.#o.warn.warn('busy', { openFiles: open, busyAt: this.#busyAt, ceiling: this.#limit }, 'request refused with 503: open descriptors near the limit');
    return true;
  }

  /**
   * Logs one warning when descriptors enter the reserve and one line when they leave it, whatever the number
   * of refusals in between (those are counted, and logged at a bounded rate); returns `open`.
   */
  #nearLimit(open: number): number {
    // Only the guard that answers 503s (the HTTPS port's) says so: one line per process, not one per port.
    if (this.#o.busyReserve === 0) return open;
    const from = Math.min(this.#busyAt, this.#dropAt);
    // Leaving needs a margin: connections arriving and closing at the threshold would log every crossing.
    const near = this.#near ? open >= from - Math.max(8, this.#o.busyReserve >> 3) : open >= from;
    if (near === this.#near) return open;
    this.#near = near;
    const fields = { openFiles: open, ceiling: this.#limit, refuseFrom: from };
    if (near) this.#o.warn.warn('fd_limit', fields, 'open descriptors near the limit: refusing new connections until some close (raise the open-file limit: ulimit -n, LimitNOFILE=)');
    else this.#o.log.info(fields, 'open descriptors below the reserve again: accepting new connections');
    return open;
  }

  #drop(socket: Duplex, reason: RefusalReason, fields: Record<string, unknown>, msg: string): false {
    socket.destroy();
    this.#o.onRefused(reason);
    this.#o.warn.warn(reason, fields, msg);
    return false;
  }
}
