import { andThen } from '../storage/maybe-promise.js';
import type { MaybePromise } from '../storage/store-contract.js';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../logger.js';
import { ADMIN_TOKEN_FILE, loadOrCreateAdminToken, newAdminToken, readAdminToken, writeAdminToken } from './admin-token.js';
import type { SessionBackend, SharedCredentialRows, UserBackend } from './credential-stores.js';
import { PasswordThrottle } from './password-throttle.js';
import { verifyToken } from './device-tokens.js';
import { SESSION_MQTT_USER, SessionStore, type SessionInfo } from './session-store.js';
import { SharedSessionStore } from './shared-session-store.js';
import { SharedUserStore } from './shared-user-store.js';
import { UserStore, UserStoreError, type Role, type UserSummary } from './user-store.js';

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
  /** Default: the users of dataDir/users.json (or of `shared`). */
  users?: UserBackend;
  /** Default: dashboard sessions in memory (or in `shared`). */
  sessions?: SessionBackend;
  /**
   * The database several hubs share (db.url): users, sessions and the admin token live there, so every hub
   * accepts the same ones; dataDir/admin.token is still written, a copy of the database's.
   */
  shared?: SharedCredentialRows;
}

/**
 * Every credential check of the hub: the admin API token, dashboard sessions, MQTT users and device tokens.
 * The HTTP front and the MQTT broker both call `authorize`; the device endpoint calls `authenticateDevice`.
 */
export class Authorizer {
  /** MQTT and dashboard users (users.json, or the shared database). */
  readonly users: UserBackend;
  /** Dashboard sessions (in memory, or in the shared database). */
  readonly sessions: SessionBackend;
  readonly #shared: SharedSessionStore | undefined;
  readonly #opts: AuthorizerOptions;
  /** Password guesses by source address and by user (MQTT CONNECT), the sign-in policy. */
  readonly #guesses: PasswordThrottle;
  #adminToken: Buffer | undefined;

  constructor(opts: AuthorizerOptions) {
    this.#opts = opts;
    this.#guesses = new PasswordThrottle(opts.now ?? Date.now);
    const now = opts.now ? { now: opts.now } : {};
    const shared = opts.shared;
    this.#shared = shared && !opts.sessions ? new SharedSessionStore(shared, { ...now, onError: (err) => opts.log.warn({ err: (err as Error).message }, 'sweeping expired sessions failed; will retry') }) : undefined;
    this.users = opts.users ?? (shared ? new SharedUserStore(shared, opts.now) : new UserStore({ dataDir: opts.dataDir, ...now }));
    this.sessions = opts.sessions ?? this.#shared ?? new SessionStore(now);
  }

  /** Loads (or creates) the admin token and the users; on first start creates user `admin`. */
  async start(): Promise<void> {
    const { token, path, created } = this.#opts.shared ? await this.#sharedAdminToken(this.#opts.shared) : loadOrCreateAdminToken(this.#opts.dataDir);
    if (created) this.#opts.log.info({ path, shared: this.#opts.shared !== undefined }, 'created the admin API token');
    this.#adminToken = Buffer.from(token);
    await this.users.load();
    await this.#ensureAdminUser();
  }

  /**
   * The database's admin token (authoritative), copied to dataDir/admin.token for the CLI and README flows.
   * The first hub stores its file's token, or a new one: a hub moved from SQLite keeps its token.
   */
  async #sharedAdminToken(shared: SharedCredentialRows): Promise<{ token: string; path: string; created: boolean }> {
    const dataDir = this.#opts.dataDir;
    const local = readAdminToken(dataDir);
    const { token, created } = await shared.adminToken(local ?? newAdminToken());
    const path = token === local ? join(dataDir, ADMIN_TOKEN_FILE) : writeAdminToken(dataDir, token);
    if (local !== undefined && token !== local) this.#opts.log.warn({ path }, 'admin.token differed from the shared database\'s admin token; replaced with the database\'s');
    return { token, path, created };
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
      username === SESSION_MQTT_USER ? this.#sessionPrincipal(await this.sessions.verify(password)) : await this.#userPrincipal(username, password);
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

  /**
   * authorize() for a bearer token: at once on SQLite (no I/O) and for the admin token; a Promise when a
   * shared session must be checked in the database (at most once a second per session).
   */
  authorizeBearer(token: string): MaybePromise<Principal | null> {
    const expected = this.#adminToken;
    const given = Buffer.from(token);
    if (expected && given.length === expected.length && timingSafeEqual(given, expected)) return { role: 'admin', username: 'admin-token' };
    return andThen(this.sessions.verify(token), (session) => this.#sessionPrincipal(session));
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
    const { token, expiresAt } = await this.sessions.create(username, role);
    return { token, role, username, expiresAt };
  }

  /** The live session of a token (sliding its expiry), or null. */
  session(token: string): MaybePromise<SessionInfo | null> {
    return this.sessions.verify(token);
  }

  /** Ends a session (on every hub, when shared); false when the token was not live. */
  signOut(token: string): MaybePromise<boolean> {
    return this.sessions.revoke(token);
  }

  /** Every user, sorted by name, without hashes. */
  listUsers(): MaybePromise<UserSummary[]> {
    this.users.reloadIfChanged();
    return this.users.list();
  }

  /** Adds a user (throws UserStoreError with HUB_ERR_USER_* for a bad or taken name, role or password). */
  addUser(name: string, password: string, role: Role): Promise<UserSummary> {
    this.users.reloadIfChanged();
    return this.users.add(name, password, role);
  }

  /** Removes a user and ends every dashboard session of theirs at once; null when there was no such user. */
  removeUser(name: string): MaybePromise<{ sessionsEnded: number } | null> {
    this.users.reloadIfChanged();
    // Sessions first: in the shared database the foreign key also ends one opened meanwhile.
    return andThen(this.sessions.revokeUser(name), (sessionsEnded) =>
      andThen(this.users.remove(name), (removed) => {
        if (!removed) return null;
        this.#opts.log.info({ user: name, sessionsEnded }, 'user removed');
        return { sessionsEnded };
      }),
    );
  }

  /** Changes a user's password after checking the current one; 'wrong' when it does not match, 'unknown' for no user. */
  async changePassword(name: string, current: string, next: string): Promise<'ok' | 'wrong' | 'unknown'> {
    this.users.reloadIfChanged();
    if ((await this.users.role(name)) === undefined) return 'unknown';
    if ((await this.users.verify(name, current)) === null) return 'wrong';
    return (await this.users.setPassword(name, next)) ? 'ok' : 'unknown';
  }

  /**
   * Picks up users.json changed by another process (`hearth user remove` while the hub runs): sessions of a
   * user who is gone, or whose role changed, end at once. Returns how many ended.
   */
  reconcileUsers(): number {
    // Shared: each session check joins its user in the database; what remains is the expiry sweep.
    if (this.#shared) return this.#shared.sweep(), 0;
    if (!this.users.reloadIfChanged()) return 0;
    const users = this.users as UserStore; // users.json: role() answers at once
    const ended = this.sessions.revokeUnless((username, role) => users.role(username) === role);
    if (ended > 0) this.#opts.log.info({ sessionsEnded: ended }, 'users changed on disk; sessions of removed or changed users ended');
    return ended;
  }

  #sessionPrincipal(session: SessionInfo | null): Principal | null {
    return session ? { role: session.role, username: session.username } : null;
  }

  /** On first start there are no users: create `admin` with a random password, written to a 0600 file. */
  async #ensureAdminUser(): Promise<void> {
    const users = this.users;
    if (!(await users.isEmpty())) return;
    const password = randomBytes(12).toString('base64url');
    try {
      await users.add('admin', password, 'admin');
    } catch (err) {
      // Another hub on the shared database created it first: its password file has the password.
      if (err instanceof UserStoreError && err.code === 'HUB_ERR_USER_EXISTS') return;
      throw err;
    }
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
