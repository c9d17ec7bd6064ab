import { andThen } from '../storage/maybe-promise.js';
import type { MaybePromise } from '../storage/store-contract.js';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../logger.js';
import { loadOrCreateAdminToken } from './admin-token.js';
import { PasswordThrottle } from './password-throttle.js';
import { verifyToken } from './device-tokens.js';
import { SESSION_MQTT_USER, SessionStore, type SessionInfo } from './session-store.js';
import { UserStore, type Role, type UserSummary } from './user-store.js';

/** What a client presents: a bearer token (HTTP API, dashboard) or a user name and password (MQTT CONNECT). */
export type Credentials =
  | { kind: 'bearer'; token: string }
  /** `source`: the client's address; given, failures count towards passwordWait() (MQTT CONNECT). */
  | { kind: 'password'; username: string; password: string; source?: string };

/** Who the credentials belong to. */
export interface Principal {
  role: Role;
  /** The user name; 'admin-token' for the admin API token. */
  username: string;
}

/** A new dashboard session, answered once to the browser that signed in. */
export interface SessionGrant {
  token: string;
  role: Role;
  username: string;
  expiresAt: number;
}

/** The stored hash of a device token (the device registry keeps it). */
export interface DeviceCredentialSource {
  /** At once (SQLite, or a device already in memory) or as a Promise (a device the PostgreSQL store must be asked for). */
  deviceCredentials(id: string): MaybePromise<{ tokenSalt: string; tokenHash: string } | undefined>;
}

/** A device upgrade's answer [FP-2.3]: accepted, or refused before any socket exists. */
export type DeviceAuthResult =
  | { ok: true }
  | { ok: false; code: 'HUB_ERR_UNKNOWN_DEVICE' | 'HUB_ERR_BAD_TOKEN'; message: string };

export interface AuthorizerOptions {
  /** Where admin.token and users.json live. */
  dataDir: string;
  devices: DeviceCredentialSource;
  log: Logger;
  now?: () => number;
  /** Default: the users of dataDir/users.json. */
  users?: UserStore;
  /** Default: dashboard sessions in memory. */
  sessions?: SessionStore;
}

/**
 * Every credential check of the hub: the admin API token, dashboard sessions, MQTT users and device tokens.
 * The HTTP front and the MQTT broker both call `authorize`; the device endpoint calls `authenticateDevice`.
 */
export class Authorizer {
  /** MQTT and dashboard users (users.json). */
  readonly users: UserStore;
  /** Dashboard sessions. */
  readonly sessions: SessionStore;
  readonly #opts: AuthorizerOptions;
  /** Password guesses by source address and by user (MQTT CONNECT), the sign-in policy. */
  readonly #guesses: PasswordThrottle;
  #adminToken: Buffer | undefined;

  constructor(opts: AuthorizerOptions) {
    this.#opts = opts;
    this.#guesses = new PasswordThrottle(opts.now ?? Date.now);
    this.users = opts.users ?? new UserStore({ dataDir: opts.dataDir, ...(opts.now ? { now: opts.now } : {}) });
    this.sessions = opts.sessions ?? new SessionStore(opts.now ? { now: opts.now } : {});
  }

  /** Loads (or creates) the admin token and the users; on first start creates user `admin`. */
  async start(): Promise<void> {
    const { token, path, created } = loadOrCreateAdminToken(this.#opts.dataDir);
    if (created) this.#opts.log.info({ path }, 'created the admin API token');
    this.#adminToken = Buffer.from(token);
    this.users.load();
    await this.#ensureAdminUser();
  }

  /** The admin API token (after start()). */
  get adminToken(): string {
    return this.#adminToken?.toString() ?? '';
  }

  /**
   * The principal behind `credentials`, or null. A bearer token is the admin token or a live dashboard
   * session (its expiry slides); a password is a user's, or a session token under MQTT user `session`.
   */
  async authorize(credentials: Credentials): Promise<Principal | null> {
    if (credentials.kind === 'bearer') return this.authorizeBearer(credentials.token);
    const { username, password, source } = credentials;
    const principal =
      username === SESSION_MQTT_USER ? this.#sessionPrincipal(this.sessions.verify(password)) : await this.#userPrincipal(username, password);
    if (source !== undefined) {
      for (const key of guessKeys(username, source)) {
        if (principal) this.#guesses.clear(key);
        else this.#guesses.record(key);
      }
    }
    return principal;
  }

  /**
   * Milliseconds until a password for `username` from `source` is checked again (0: now): 10 failures a
   * minute per source address, and per user name, block it for the rest of that minute.
   */
  passwordWait(username: string, source: string): number {
    let wait = 0;
    for (const key of guessKeys(username, source)) wait = Math.max(wait, this.#guesses.blockedFor(key));
    return wait;
  }

  async #userPrincipal(username: string, password: string): Promise<Principal | null> {
    const role = await this.users.verify(username, password);
    return role ? { role, username } : null;
  }

  /** authorize() for a bearer token, which needs no I/O: the HTTP front's synchronous paths use it. */
  authorizeBearer(token: string): Principal | null {
    const session = this.sessions.verify(token);
    if (session) return this.#sessionPrincipal(session);
    const expected = this.#adminToken;
    const given = Buffer.from(token);
    return expected && given.length === expected.length && timingSafeEqual(given, expected) ? { role: 'admin', username: 'admin-token' } : null;
  }

  /** Checks a device's bearer token before its WebSocket upgrade [FP-2.3]. */
  authenticateDevice(id: string, token: string | undefined): MaybePromise<DeviceAuthResult> {
    return andThen(this.#opts.devices.deviceCredentials(id), (stored) => this.#checkDevice(id, token, stored));
  }

  #checkDevice(id: string, token: string | undefined, stored: { tokenSalt: string; tokenHash: string } | undefined): DeviceAuthResult {
    if (!stored) return { ok: false, code: 'HUB_ERR_UNKNOWN_DEVICE', message: `no device "${id}" is provisioned` };
    if (!token || !verifyToken(token, stored.tokenSalt, stored.tokenHash)) {
      return { ok: false, code: 'HUB_ERR_BAD_TOKEN', message: `wrong or missing bearer token for device "${id}"` };
    }
    return { ok: true };
  }

  /** Exchanges a user's password for a new dashboard session, or null when they do not match. */
  async signIn(username: string, password: string): Promise<SessionGrant | null> {
    const role = await this.users.verify(username, password);
    if (!role) return null;
    const { token, expiresAt } = this.sessions.create(username, role);
    return { token, role, username, expiresAt };
  }

  /** The live session of a token (sliding its expiry), or null. */
  session(token: string): SessionInfo | null {
    return this.sessions.verify(token);
  }

  /** Ends a session; false when the token was not live. */
  signOut(token: string): boolean {
    return this.sessions.revoke(token);
  }

  /** Every user, sorted by name, without hashes. */
  listUsers(): UserSummary[] {
    this.users.reloadIfChanged();
    return this.users.list();
  }

  /** Adds a user (throws UserStoreError with HUB_ERR_USER_* for a bad or taken name, role or password). */
  addUser(name: string, password: string, role: Role): Promise<UserSummary> {
    this.users.reloadIfChanged();
    return this.users.add(name, password, role);
  }

  /** Removes a user and ends every dashboard session of theirs at once; null when there was no such user. */
  removeUser(name: string): { sessionsEnded: number } | null {
    this.users.reloadIfChanged();
    if (!this.users.remove(name)) return null;
    const sessionsEnded = this.sessions.revokeUser(name);
    this.#opts.log.info({ user: name, sessionsEnded }, 'user removed');
    return { sessionsEnded };
  }

  /** Changes a user's password after checking the current one; 'wrong' when it does not match, 'unknown' for no user. */
  async changePassword(name: string, current: string, next: string): Promise<'ok' | 'wrong' | 'unknown'> {
    this.users.reloadIfChanged();
    if (this.users.role(name) === undefined) return 'unknown';
    if ((await this.users.verify(name, current)) === null) return 'wrong';
    return (await this.users.setPassword(name, next)) ? 'ok' : 'unknown';
  }

  /**
   * Picks up users.json changed by another process (`hearth user remove` while the hub runs): sessions of a
   * user who is gone, or whose role changed, end at once. Returns how many ended.
   */
  reconcileUsers(): number {
    if (!this.users.reloadIfChanged()) return 0;
    const ended = this.sessions.revokeUnless((username, role) => this.users.role(username) === role);
    if (ended > 0) this.#opts.log.info({ sessionsEnded: ended }, 'users changed on disk; sessions of removed or changed users ended');
    return ended;
  }

  #sessionPrincipal(session: SessionInfo | null): Principal | null {
    return session ? { role: session.role, username: session.username } : null;
  }

  /** On first start there are no users: create `admin` with a random password, written to a 0600 file. */
  async #ensureAdminUser(): Promise<void> {
    const users = this.users;
    if (!users.isEmpty()) return;
    const password = randomBytes(12).toString('base64url');
    await users.add('admin', password, 'admin');
    // Like Jenkins' initialAdminPassword: a 0600 file, so the secret never lands in logs.
    const file = join(this.#opts.dataDir, 'initial-admin-password');
    writeFileSync(file, `${password}\n`, { mode: 0o600 });
    this.#opts.log.warn({ user: 'admin', passwordFile: file }, 'created the first user (MQTT and dashboard); its password is in passwordFile');
  }
}

/**
 * The throttle's keys of one attempt: its address, and its user name, except for `session` (dashboard
 * tokens are random 256-bit secrets; blocking that name would lock every dashboard out of MQTT).
 */
function guessKeys(username: string, source: string): string[] {
  return username === SESSION_MQTT_USER ? [`addr:${source}`] : [`addr:${source}`, `user:${username}`];
}
