import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { checkNewUser, checkPassword, hashPassword, isObject, isStoredUser, UserStoreError, verifyPassword, type Role, type StoredUser, type UserSummary } from './user-rules.js';

export { ROLES, USER_ERROR_CODES, UserStoreError, type Role, type StoredUser, type UserErrorCode, type UserSummary } from './user-rules.js';

export const USERS_FILE = 'users.json';
const FILE_VERSION = 1;

interface UsersFile {
  version: number;
  users: StoredUser[];
}

export interface UserStoreOptions {
  /** Folder that holds users.json (created on first write). */
  dataDir: string;
  /** Clock for createdAt; injectable for tests. */
  now?: () => number;
}

/**
 * MQTT users persisted in `<dataDir>/users.json` (mode 0600, replaced atomically). Passwords are kept as
 * salted scrypt hashes. The file may be changed by the `hearth user` CLI while the hub runs: verify()
 * notices a changed file and reloads it.
 */
export class UserStore {
  readonly #file: string;
  readonly #dataDir: string;
  readonly #now: () => number;
  #users = new Map<string, StoredUser>();
  /** mtime+size of the file as last read or written; '' when there was none. */
  #stamp = '';

  constructor(opts: UserStoreOptions) {
    this.#dataDir = opts.dataDir;
    this.#file = path.join(opts.dataDir, USERS_FILE);
    this.#now = opts.now ?? Date.now;
  }

  /** Reads the users file (a missing file means no users); throws HUB_ERR_USERS_FILE when it is unreadable. */
  load(): void {
    let text: string;
    try {
      text = fs.readFileSync(this.#file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        this.#users = new Map();
        this.#stamp = '';
        return;
      }
      throw new UserStoreError('HUB_ERR_USERS_FILE', `cannot read ${this.#file}: ${(err as Error).message}`);
    }
    this.#users = parseFile(this.#file, text);
    this.#stamp = this.#currentStamp();
  }

  /** True when no user exists: main.ts then creates the first admin. */
  isEmpty(): boolean {
    return this.#users.size === 0;
  }

  /** Adds a user with a fresh salt; refuses a bad name, role or password, or an existing name. */
  async add(name: string, password: string, role: Role): Promise<UserSummary> {
    checkNewUser(name, password, role);
    if (this.#users.has(name)) throw new UserStoreError('HUB_ERR_USER_EXISTS', `user ${name} already exists`);
    const hashed = await hashPassword(password);
    // Checked again: another add() of the same name may have finished while scrypt ran.
    if (this.#users.has(name)) throw new UserStoreError('HUB_ERR_USER_EXISTS', `user ${name} already exists`);
    const user: StoredUser = { name, role, createdAt: this.#now(), ...hashed };
    this.#users.set(name, user);
    this.#save();
    return summary(user);
  }

  /** Every user, sorted by name, without hashes. */
  list(): UserSummary[] {
    return [...this.#users.values()].map(summary).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Every user with its hash, as stored (`hearth migrate` copies them into PostgreSQL). */
  stored(): StoredUser[] {
    return [...this.#users.values()].map((u) => ({ ...u, kdf: { ...u.kdf } }));
  }

  /** Removes a user; false when there was none of that name. */
  remove(name: string): boolean {
    if (!this.#users.delete(name)) return false;
    this.#save();
    return true;
  }

  /** The role of user `name`, or undefined when there is none. */
  role(name: string): Role | undefined {
    return this.#users.get(name)?.role;
  }

  /** Gives an existing user a new password (fresh salt); false when there is no such user. */
  async setPassword(name: string, password: string): Promise<boolean> {
    checkPassword(password);
    if (!this.#users.has(name)) return false;
    const hashed = await hashPassword(password);
    const user = this.#users.get(name);
    // Removed while scrypt ran: nothing to change.
    if (!user) return false;
    this.#users.set(name, { ...user, ...hashed });
    this.#save();
    return true;
  }

  /** Re-reads users.json when another process (the `hearth user` CLI) changed it; true when it was re-read. */
  reloadIfChanged(): boolean {
    return this.#reloadIfChanged();
  }

  /** The user's role when the password is right, else null. Costs one scrypt (~30 ms) either way. */
  async verify(name: string, password: string): Promise<Role | null> {
    this.#reloadIfChanged();
    return verifyPassword(this.#users.get(name), password);
  }

  #reloadIfChanged(): boolean {
    if (this.#currentStamp() === this.#stamp) return false;
    try {
      this.load();
      return true;
    } catch {
      // A half-edited file must not lock everybody out: keep the users last read.
      return false;
    }
  }

  #currentStamp(): string {
    try {
      const st = fs.statSync(this.#file);
      return `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch {
      return '';
    }
  }

  #save(): void {
    const body: UsersFile = { version: FILE_VERSION, users: [...this.#users.values()] };
    fs.mkdirSync(this.#dataDir, { recursive: true });
    const tmp = `${this.#file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      fs.writeFileSync(tmp, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
      fs.renameSync(tmp, this.#file);
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      throw err;
    }
    this.#stamp = this.#currentStamp();
  }
}

/** A user without its hash. */
export function summary(user: StoredUser): UserSummary {
  return { name: user.name, role: user.role, createdAt: user.createdAt };
}

function parseFile(file: string, text: string): Map<string, StoredUser> {
  const bad = (why: string) => new UserStoreError('HUB_ERR_USERS_FILE', `${file}: ${why}`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw bad(`not JSON (${(err as Error).message})`);
  }
  if (!isObject(data) || data['version'] !== FILE_VERSION || !Array.isArray(data['users'])) {
    throw bad(`expected {"version": ${FILE_VERSION}, "users": [...]}`);
  }
  const users = new Map<string, StoredUser>();
  for (const [i, u] of (data['users'] as unknown[]).entries()) {
    if (!isStoredUser(u)) throw bad(`user #${i} is malformed`);
    if (users.has(u.name)) throw bad(`user ${u.name} appears twice`);
    users.set(u.name, u);
  }
  return users;
}
