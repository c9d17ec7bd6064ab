import { randomBytes } from 'node:crypto';
import type { SessionBackend, SessionRow, SharedCredentialRows } from './credential-stores.js';
import { DEFAULT_MAX_SESSIONS, digest, isTokenShaped, SESSION_TTL_MS, SWEEP_INTERVAL_MS, TOKEN_BYTES, type SessionInfo } from './session-store.js';
import type { Role } from './user-rules.js';

/**
 * How long a session the database confirmed is trusted without asking again: a sign-out, or the removal of
 * its user, on another hub takes effect here within this time (on this hub at once).
 */
export const SESSION_RECHECK_MS = 1000;
/** The sliding expiry is written at most this often per session, not on every request. */
export const SESSION_SLIDE_EVERY_MS = 60_000;
/**
 * A token the database does not know is answered from memory for this long: a flood of made-up or expired
 * tokens costs one lookup each per minute, not one per request. Safe because a token cannot be sent before
 * its sign-in returned it, and the sign-in commits the session first.
 */
export const UNKNOWN_TOKEN_MS = 60_000;
/** Unknown tokens remembered at most (the oldest go first). */
export const UNKNOWN_TOKENS_MAX = 10_000;

interface Confirmed {
  info: SessionInfo;
  checkedAt: number;
  /** When the expiry was last moved (by any hub): expiresAt - ttl. */
  slidAt: number;
}

export interface SharedSessionStoreOptions {
  ttlMs?: number;
  now?: () => number;
  maxSessions?: number;
  /** An expiry sweep failed (it runs in the background): logged, retried at the next sweep. */
  onError?: (err: unknown) => void;
}

/**
 * Dashboard sessions in the database that several hubs share (db.url), so a token from one hub's sign-in
 * works on every hub. Only SHA-256 digests of tokens are stored. Each hub trusts a confirmed session for
 * SESSION_RECHECK_MS, then asks the database again (one primary-key lookup joined with its user); the
 * sliding expiry is written at most once per SESSION_SLIDE_EVERY_MS.
 */
export class SharedSessionStore implements SessionBackend {
  readonly #rows: SharedCredentialRows;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #max: number;
  readonly #onError: (err: unknown) => void;
  readonly #confirmed = new Map<string, Confirmed>();
  /** Digests the database answered "no such live session" for, until when (insertion order: oldest first). */
  readonly #unknown = new Map<string, number>();
  /** One database lookup per digest at a time: a page's burst of requests waits for the same answer. */
  readonly #asking = new Map<string, Promise<SessionInfo | null>>();
  #lastSweep = 0;
  /** Bumped by every revoke here: a lookup that overlapped one does not refill the cache. */
  #revocations = 0;

  constructor(rows: SharedCredentialRows, opts: SharedSessionStoreOptions = {}) {
    this.#rows = rows;
    this.#ttlMs = opts.ttlMs ?? SESSION_TTL_MS;
    this.#now = opts.now ?? Date.now;
    this.#max = opts.maxSessions ?? DEFAULT_MAX_SESSIONS;
    this.#onError = opts.onError ?? (() => undefined);
  }

  /** Opens a session: a fresh random token, stored as its digest; the soonest-expiring beyond the bound go. */
  async create(username: string, role: Role): Promise<{ token: string; expiresAt: number }> {
    const now = this.#now();
    const token = randomBytes(TOKEN_BYTES).toString('base64url');
    const row: SessionRow = { tokenHash: digest(token), username, role, createdAt: now, expiresAt: now + this.#ttlMs };
    await this.#rows.insertSession(row, this.#max);
    this.#remember(row.tokenHash, { username, role, expiresAt: row.expiresAt }, now, now);
    this.sweep();
    return { token, expiresAt: row.expiresAt };
  }

  /** The session's owner when the token is live, else null: from the last SESSION_RECHECK_MS, or the database. */
  verify(token: string): SessionInfo | null | Promise<SessionInfo | null> {
    if (!isTokenShaped(token)) return null;
    const key = digest(token);
    const now = this.#now();
    const known = this.#confirmed.get(key);
    if (known && now - known.checkedAt < SESSION_RECHECK_MS && known.info.expiresAt > now) return { ...known.info };
    const unknownUntil = this.#unknown.get(key);
    if (unknownUntil !== undefined) {
      if (unknownUntil > now) return null;
      this.#unknown.delete(key);
    }
    const asking = this.#asking.get(key);
    if (asking) return asking;
    // First seen here: the row says when it last slid, so this lookup need not write.
    const slide = known && now - known.slidAt >= SESSION_SLIDE_EVERY_MS ? now + this.#ttlMs : undefined;
    const revocations = this.#revocations;
    const answer = this.#rows
      .liveSession(key, now, slide)
      .then((row) => {
        if (!row) {
          this.#confirmed.delete(key);
          this.#rememberUnknown(key, now + UNKNOWN_TOKEN_MS);
          return null;
        }
        const info = { username: row.username, role: row.role, expiresAt: row.expiresAt };
        // A sign-out on this hub while the lookup ran: answer it, but do not trust it for the next second.
        if (revocations === this.#revocations) this.#remember(key, info, now, row.expiresAt - this.#ttlMs);
        return { ...info };
      })
      .finally(() => this.#asking.delete(key));
    this.#asking.set(key, answer);
    return answer;
  }

  /** Ends a session on every hub; false when the token was not live. */
  async revoke(token: string): Promise<boolean> {
    if (!isTokenShaped(token)) return false;
    const key = digest(token);
    this.#revocations++;
    this.#confirmed.delete(key);
    return this.#rows.deleteSession(key);
  }

  /** Ends every session of a user on every hub; returns how many. */
  async revokeUser(username: string): Promise<number> {
    this.#revocations++;
    for (const [key, c] of this.#confirmed) if (c.info.username === username) this.#confirmed.delete(key);
    return this.#rows.deleteUserSessions(username);
  }

  /** The database check joins each session with its user, so a removed or changed user's sessions fail it. */
  revokeUnless(): number {
    return 0;
  }

  /** Deletes expired sessions, at most once per SWEEP_INTERVAL_MS, in the background; forgets stale confirmations. */
  sweep(): void {
    const now = this.#now();
    for (const [key, c] of this.#confirmed) if (now - c.checkedAt >= SESSION_RECHECK_MS) this.#confirmed.delete(key);
    for (const [key, until] of this.#unknown) if (until <= now) this.#unknown.delete(key);
    if (now - this.#lastSweep < SWEEP_INTERVAL_MS) return;
    this.#lastSweep = now;
    this.#rows.deleteExpiredSessions(now).catch(this.#onError);
  }

  /** Confirmed sessions held in memory (at most maxSessions). */
  get size(): number {
    return this.#confirmed.size;
  }

  #rememberUnknown(key: string, until: number): void {
    setBounded(this.#unknown, key, until, UNKNOWN_TOKENS_MAX);
  }

  #remember(key: string, info: SessionInfo, checkedAt: number, slidAt: number): void {
    setBounded(this.#confirmed, key, { info, checkedAt, slidAt }, this.#max);
  }
}

/** Sets `key` as the newest entry of `map`, first dropping the oldest entries beyond `max` (insertion order). */
function setBounded<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  for (const oldest of map.keys()) {
    if (map.size < max) break;
    map.delete(oldest);
  }
  map.set(key, value);
}
