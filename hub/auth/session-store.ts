import { createHash, randomBytes } from 'node:crypto';
import type { Role } from './user-store.js';

// Dashboard sign-in: a user name and password are exchanged once for a random session token that the
// browser keeps in sessionStorage and sends as `Authorization: Bearer <token>` (API) or as the password of
// MQTT user `session` (MQTT over WebSocket). The password never stays in the browser.

/** Sessions live this long after their last use (sliding expiry). */
export const SESSION_TTL_MS = 12 * 3600_000;
/** MQTT user name under which the broker accepts a session token as the password. */
export const SESSION_MQTT_USER = 'session';

/** A session token's random bytes (43 characters of base64url). */
export const TOKEN_BYTES = 32;
/** base64url of 32 bytes is 43 characters; anything longer is not one of ours and is not hashed. */
const MAX_TOKEN_CHARS = 64;
/** Bound on live sessions, so repeated sign-ins cannot grow memory without end. */
export const DEFAULT_MAX_SESSIONS = 10_000;
/** Expired sessions are swept at most this often. */
export const SWEEP_INTERVAL_MS = 60_000;

/** Who a session belongs to, and when it lapses unless used again. */
export interface SessionInfo {
  username: string;
  role: Role;
  expiresAt: number;
}

export interface SessionStoreOptions {
  /** Idle lifetime of a session; default 12 h. */
  ttlMs?: number;
  now?: () => number;
  /** Oldest sessions are dropped beyond this many; default 10,000. */
  maxSessions?: number;
}

interface Entry {
  username: string;
  role: Role;
  expiresAt: number;
}

/**
 * Dashboard sessions in memory (a hub restart signs everybody out). Tokens are kept only as SHA-256
 * digests, so a heap dump does not hand out live tokens and lookups do not compare secrets byte by byte.
 */
export class SessionStore {
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #max: number;
  readonly #entries = new Map<string, Entry>();
  #lastSweep = 0;

  constructor(opts: SessionStoreOptions = {}) {
    this.#ttlMs = opts.ttlMs ?? SESSION_TTL_MS;
    this.#now = opts.now ?? Date.now;
    this.#max = opts.maxSessions ?? DEFAULT_MAX_SESSIONS;
  }

  /** Opens a session: a fresh random 32-byte base64url token and its expiry time. */
  create(username: string, role: Role): { token: string; expiresAt: number } {
    const now = this.#now();
    this.#sweep(now);
    while (this.#entries.size >= this.#max) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value);
    }
    const token = randomBytes(TOKEN_BYTES).toString('base64url');
    const expiresAt = now + this.#ttlMs;
    this.#entries.set(digest(token), { username, role, expiresAt });
    return { token, expiresAt };
  }

  /** The session's owner when the token is live (and extends it by the TTL), else null. */
  verify(token: string): SessionInfo | null {
    if (!isTokenShaped(token)) return null;
    const key = digest(token);
    const entry = this.#entries.get(key);
    if (!entry) return null;
    const now = this.#now();
    if (entry.expiresAt <= now) {
      this.#entries.delete(key);
      return null;
    }
    entry.expiresAt = now + this.#ttlMs;
    // Re-insert so that Map order stays least-recently-used first for eviction in create().
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return { username: entry.username, role: entry.role, expiresAt: entry.expiresAt };
  }

  /** Ends a session; false when the token was not live. */
  revoke(token: string): boolean {
    if (!isTokenShaped(token)) return false;
    return this.#entries.delete(digest(token));
  }

  /** Ends every session of a user (removed or demoted); returns how many. */
  revokeUser(username: string): number {
    let n = 0;
    for (const [key, entry] of this.#entries) {
      if (entry.username === username) {
        this.#entries.delete(key);
        n++;
      }
    }
    return n;
  }

  /** Ends every session whose owner `keep` no longer accepts (a user removed or demoted elsewhere); returns how many. */
  revokeUnless(keep: (username: string, role: Role) => boolean): number {
    let n = 0;
    for (const [key, entry] of this.#entries) {
      if (keep(entry.username, entry.role)) continue;
      this.#entries.delete(key);
      n++;
    }
    return n;
  }

  /** Live sessions (expired ones may linger until the next sweep). */
  get size(): number {
    return this.#entries.size;
  }

  #sweep(now: number): void {
    if (now - this.#lastSweep < SWEEP_INTERVAL_MS) return;
    this.#lastSweep = now;
    for (const [key, entry] of this.#entries) if (entry.expiresAt <= now) this.#entries.delete(key);
  }
}

/** The stored form of a session token (SHA-256, base64): only this is kept, in memory or in the database. */
export function digest(token: string): string {
  return createHash('sha256').update(token).digest('base64');
}

/** Whether `token` could be one of ours: longer strings are not hashed (nor looked up). */
export function isTokenShaped(token: unknown): token is string {
  return typeof token === 'string' && token.length > 0 && token.length <= MAX_TOKEN_CHARS;
}

