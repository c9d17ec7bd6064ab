import type { SharedCredentialRows, UserBackend } from './credential-stores.js';
import { checkNewUser, checkPassword, hashPassword, UserStoreError, verifyPassword, type Role, type UserSummary } from './user-rules.js';
import { summary } from './user-store.js';

/**
 * Users in the database that several hubs share (db.url): the rules of user-rules.ts over rows, nothing
 * cached, so a user added or removed by the CLI or another hub counts at the next sign-in or CONNECT.
 */
export class SharedUserStore implements UserBackend {
  readonly #rows: SharedCredentialRows;
  readonly #now: () => number;

  constructor(rows: SharedCredentialRows, now: () => number = Date.now) {
    this.#rows = rows;
    this.#now = now;
  }

  /** Nothing to read ahead: every answer comes from the database. */
  load(): void {}

  /** True when the database has no user yet. */
  async isEmpty(): Promise<boolean> {
    return (await this.#rows.countUsers()) === 0;
  }

  /** Adds a user with a fresh salt; HUB_ERR_USER_EXISTS also when another hub took the name meanwhile. */
  async add(name: string, password: string, role: Role): Promise<UserSummary> {
    checkNewUser(name, password, role);
    if (await this.#rows.user(name)) throw exists(name);
    const user = { name, role, createdAt: this.#now(), ...(await hashPassword(password)) };
    if (!(await this.#rows.insertUser(user))) throw exists(name);
    return summary(user);
  }

  /** Every user, sorted by name, without hashes. */
  async list(): Promise<UserSummary[]> {
    return (await this.#rows.users()).map(summary).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Removes a user (and, by the foreign key, their sessions); false when there was none. */
  remove(name: string): Promise<boolean> {
    return this.#rows.deleteUser(name);
  }

  /** The role of user `name`, or undefined. */
  async role(name: string): Promise<Role | undefined> {
    return (await this.#rows.user(name))?.role;
  }

  /** Gives an existing user a new password (fresh salt); false when there is no such user. */
  async setPassword(name: string, password: string): Promise<boolean> {
    checkPassword(password);
    if (!(await this.#rows.user(name))) return false;
    return this.#rows.updateUserHash(name, await hashPassword(password));
  }

  /** Nothing is cached, so there is nothing to reload. */
  reloadIfChanged(): boolean {
    return false;
  }

  /** The user's role when the password is right, else null: one query and one scrypt either way. */
  async verify(name: string, password: string): Promise<Role | null> {
    return verifyPassword(await this.#rows.user(name), password);
  }
}

function exists(name: string): UserStoreError {
  return new UserStoreError('HUB_ERR_USER_EXISTS', `user ${name} already exists`);
}
