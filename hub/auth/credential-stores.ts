import type { MaybePromise } from '../storage/store-contract.js';
import type { SessionInfo } from './session-store.js';
import type { Role, StoredUser, UserSummary } from './user-rules.js';

// The two homes of users, sessions and the admin token: files and memory of one hub (UserStore,
// SessionStore, dataDir/admin.token), or the PostgreSQL database that several hubs share (SharedUserStore,
// SharedSessionStore over the rows below). The Authorizer sees only these interfaces; on SQLite every
// answer is a plain value, so nothing there waits for a microtask.

/** MQTT and dashboard users as the Authorizer uses them. */
export interface UserBackend {
  load(): MaybePromise<void>;
  isEmpty(): MaybePromise<boolean>;
  /** Throws UserStoreError HUB_ERR_USER_* for a bad or taken name, role or password. */
  add(name: string, password: string, role: Role): Promise<UserSummary>;
  list(): MaybePromise<UserSummary[]>;
  /** Removes the user; false when there was none of that name. */
  remove(name: string): MaybePromise<boolean>;
  role(name: string): MaybePromise<Role | undefined>;
  setPassword(name: string, password: string): Promise<boolean>;
  /** users.json changed by another process; always false where nothing is cached (the database). */
  reloadIfChanged(): boolean;
  verify(name: string, password: string): Promise<Role | null>;
}

/** Dashboard sessions as the Authorizer uses them. */
export interface SessionBackend {
  create(username: string, role: Role): MaybePromise<{ token: string; expiresAt: number }>;
  verify(token: string): MaybePromise<SessionInfo | null>;
  revoke(token: string): MaybePromise<boolean>;
  revokeUser(username: string): MaybePromise<number>;
  /** Ends the sessions of owners `keep` refuses (users.json edited elsewhere); the database needs none. */
  revokeUnless(keep: (username: string, role: Role) => boolean): number;
}

/** A session as the database keeps it: the digest of its token, never the token. */
export interface SessionRow {
  tokenHash: string;
  username: string;
  role: Role;
  createdAt: number;
  expiresAt: number;
}

/** Users, sessions and the admin token in the shared database (hub/storage/pg/pg-auth.ts). */
export interface SharedCredentialRows {
  user(name: string): Promise<StoredUser | undefined>;
  users(): Promise<StoredUser[]>;
  countUsers(): Promise<number>;
  /** False when the name is taken. */
  insertUser(user: StoredUser): Promise<boolean>;
  /** False when there is no such user. */
  updateUserHash(name: string, hash: Pick<StoredUser, 'salt' | 'hash' | 'kdf'>): Promise<boolean>;
  /** Removes the user (their sessions go with them: a foreign key); false when there was none. */
  deleteUser(name: string): Promise<boolean>;
  /** Inserts the session, then drops the ones that expire soonest beyond `max`. */
  insertSession(row: SessionRow, max: number): Promise<void>;
  /**
   * The live session of a digest whose owner still exists with the same role, or undefined; with `slideTo`,
   * also moves its expiry there (the sliding expiry, written at most once a minute per session).
   */
  liveSession(tokenHash: string, now: number, slideTo?: number): Promise<SessionRow | undefined>;
  deleteSession(tokenHash: string): Promise<boolean>;
  deleteUserSessions(username: string): Promise<number>;
  deleteExpiredSessions(now: number): Promise<number>;
  /** Stores `candidate` unless a token exists (the first hub wins a race); returns the stored one. */
  adminToken(candidate: string): Promise<{ token: string; created: boolean }>;
}
