import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Role } from '../users/user-store.js';
import type { ApiErrorResponse, SessionResponse, SignInResponse, SignOutResponse } from './api-types.js';
import { HttpError, readJsonBody, sendJson } from './respond.js';

// Dashboard sign-in: a user name and password are exchanged once for a random session token that the
// browser keeps in sessionStorage and sends as `Authorization: Bearer <token>` (API) or as the password of
// MQTT user `session` (MQTT over WebSocket). The password never stays in the browser.

/** Sessions live this long after their last use (sliding expiry). */
export const SESSION_TTL_MS = 12 * 3600_000;
/** The one path the session API answers. */
export const SESSION_PATH = '/api/session';
/** MQTT user name under which the broker accepts a session token as the password. */
export const SESSION_MQTT_USER = 'session';

const TOKEN_BYTES = 32;
/** base64url of 32 bytes is 43 characters; anything longer is not one of ours and is not hashed. */
const MAX_TOKEN_CHARS = 64;
/** Bound on live sessions, so repeated sign-ins cannot grow memory without end. */
const DEFAULT_MAX_SESSIONS = 10_000;
const SWEEP_INTERVAL_MS = 60_000;
const MAX_USERNAME_CHARS = 64;
const MAX_PASSWORD_CHARS = 1024;
/** Failed sign-ins per client address within FAILURE_WINDOW_MS before further attempts get 429. */
const MAX_FAILURES = 10;
const FAILURE_WINDOW_MS = 60_000;

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

function digest(token: string): string {
  return createHash('sha256').update(token).digest('base64');
}

function isTokenShaped(token: unknown): token is string {
  return typeof token === 'string' && token.length > 0 && token.length <= MAX_TOKEN_CHARS;
}

/** Checks a user name and password; UserStore satisfies it. */
export interface PasswordVerifier {
  verify(name: string, password: string): Promise<Role | null>;
}

export interface SessionApiDeps {
  sessions: SessionStore;
  users: PasswordVerifier;
  now?: () => number;
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(req: IncomingMessage): string | null {
  const header = req.headers.authorization;
  if (typeof header !== 'string' || !header.startsWith('Bearer ')) return null;
  const token = header.slice(7).trim();
  return token === '' ? null : token;
}

/** The role of the request's bearer when it carries a live session token (sliding its expiry), else null. */
export function sessionRole(sessions: SessionStore, req: IncomingMessage): Role | null {
  const token = bearerToken(req);
  return token === null ? null : (sessions.verify(token)?.role ?? null);
}

/**
 * Handles `/api/session`: POST {username, password} signs in (200 {token, role, username, expiresAt} or 401
 * HUB_ERR_BAD_CREDENTIALS), GET describes the bearer's session, DELETE signs it out. Errors are JSON
 * {error, message}; a client address with too many failed sign-ins gets 429 HUB_ERR_TOO_MANY_ATTEMPTS.
 */
export function createSessionApi(deps: SessionApiDeps): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const now = deps.now ?? Date.now;
  const failures = new FailureCounter(now);
  return async (req, res) => {
    try {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== SESSION_PATH) throw new HttpError(404, 'HUB_ERR_NOT_FOUND', `no API endpoint at ${path}`);
      switch (req.method) {
        case 'POST':
          return await signIn(deps, failures, req, res);
        case 'GET': {
          const session = liveSession(deps.sessions, req);
          return sendJson(res, 200, session satisfies SessionResponse);
        }
        case 'DELETE': {
          const token = bearerToken(req);
          if (token === null) throw unauthorized();
          // Idempotent: signing out an expired session still leaves the browser signed out.
          return sendJson(res, 200, { revoked: deps.sessions.revoke(token) } satisfies SignOutResponse);
        }
        default:
          res.setHeader('allow', 'GET, POST, DELETE');
          throw new HttpError(405, 'HUB_ERR_METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${SESSION_PATH}`);
      }
    } catch (err) {
      if (err instanceof HttpError) return sendJson(res, err.status, { error: err.code, message: err.message } satisfies ApiErrorResponse);
      sendJson(res, 500, { error: 'HUB_ERR_INTERNAL', message: (err as Error).message } satisfies ApiErrorResponse);
    }
  };
}

async function signIn(deps: SessionApiDeps, failures: FailureCounter, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const client = req.socket.remoteAddress ?? 'unknown';
  const wait = failures.blockedFor(client);
  if (wait > 0) {
    res.setHeader('retry-after', String(Math.ceil(wait / 1000)));
    throw new HttpError(429, 'HUB_ERR_TOO_MANY_ATTEMPTS', `too many failed sign-ins; try again in ${Math.ceil(wait / 1000)} s`);
  }
  // A JSON content type makes a cross-site form post impossible without a CORS preflight (login CSRF).
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) {
    throw new HttpError(400, 'HUB_ERR_BAD_REQUEST', 'send the credentials as Content-Type: application/json');
  }
  const body = await readJsonBody(req);
  const { username, password } = body;
  if (typeof username !== 'string' || username.length === 0 || username.length > MAX_USERNAME_CHARS) {
    throw new HttpError(400, 'HUB_ERR_BAD_REQUEST', `username must be a string of 1-${MAX_USERNAME_CHARS} characters`);
  }
  if (typeof password !== 'string' || password.length > MAX_PASSWORD_CHARS) {
    throw new HttpError(400, 'HUB_ERR_BAD_REQUEST', `password must be a string of at most ${MAX_PASSWORD_CHARS} characters`);
  }
  const role = await deps.users.verify(username, password);
  if (!role) {
    failures.record(client);
    throw new HttpError(401, 'HUB_ERR_BAD_CREDENTIALS', 'wrong user name or password');
  }
  failures.clear(client);
  const { token, expiresAt } = deps.sessions.create(username, role);
  sendJson(res, 200, { token, role, username, expiresAt } satisfies SignInResponse);
}

function liveSession(sessions: SessionStore, req: IncomingMessage): SessionInfo {
  const token = bearerToken(req);
  const session = token === null ? null : sessions.verify(token);
  if (!session) throw unauthorized();
  return session;
}

function unauthorized(): HttpError {
  return new HttpError(401, 'HUB_ERR_UNAUTHORIZED', 'send Authorization: Bearer <session token>');
}

/** Failed sign-ins per client address in a fixed window; each attempt already costs one scrypt. */
class FailureCounter {
  readonly #now: () => number;
  readonly #byClient = new Map<string, { count: number; since: number }>();

  constructor(now: () => number) {
    this.#now = now;
  }

  blockedFor(client: string): number {
    const entry = this.#byClient.get(client);
    if (!entry) return 0;
    const left = entry.since + FAILURE_WINDOW_MS - this.#now();
    if (left <= 0) {
      this.#byClient.delete(client);
      return 0;
    }
    return entry.count >= MAX_FAILURES ? left : 0;
  }

  record(client: string): void {
    const now = this.#now();
    const entry = this.#byClient.get(client);
    if (!entry || now - entry.since >= FAILURE_WINDOW_MS) {
      // Bounded: drop stale entries before adding one, so scanning addresses cannot fill memory.
      if (this.#byClient.size >= DEFAULT_MAX_SESSIONS) {
        for (const [k, e] of this.#byClient) if (now - e.since >= FAILURE_WINDOW_MS) this.#byClient.delete(k);
        if (this.#byClient.size >= DEFAULT_MAX_SESSIONS) this.#byClient.clear();
      }
      this.#byClient.set(client, { count: 1, since: now });
    } else {
      entry.count++;
    }
  }

  clear(client: string): void {
    this.#byClient.delete(client);
  }
}

/**
 * True when a WebSocket upgrade may proceed: requests without an Origin header (devices, non-browser
 * clients) pass; a browser's Origin must be this hub's own `https://<Host>` (no cross-site WebSocket hijacking).
 */
export function originAllowed(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  const host = req.headers.host;
  if (typeof host !== 'string' || host === '') return false;
  let given: URL;
  let own: URL;
  try {
    given = new URL(origin);
    own = new URL(`https://${host}`);
  } catch {
    return false;
  }
  // URL normalizes case and drops the default port (443), as browsers do when they serialize Origin.
  return given.protocol === 'https:' && given.origin === own.origin && `${given.protocol}//${given.host}` === origin.toLowerCase();
}
