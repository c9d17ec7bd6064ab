import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** What a user may do on MQTT: admin everything, integration read + commands, viewer read only. */
export type Role = 'admin' | 'integration' | 'viewer';
export const ROLES: readonly Role[] = ['admin', 'integration', 'viewer'];

/** A user as list() shows it: never the hash. */
export interface UserSummary {
  name: string;
  role: Role;
  createdAt: number;
}

/** Stable error codes of the user store (tabled in docs/mqtt.md). */
export const USER_ERROR_CODES = [
  'HUB_ERR_USER_EXISTS',
  'HUB_ERR_USER_NAME',
  'HUB_ERR_USER_ROLE',
  'HUB_ERR_USER_PASSWORD',
  'HUB_ERR_USERS_FILE',
] as const;
export type UserErrorCode = (typeof USER_ERROR_CODES)[number];

export class UserStoreError extends Error {
  readonly code: UserErrorCode;

  constructor(code: UserErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = 'UserStoreError';
    this.code = code;
  }
}

export const USERS_FILE = 'users.json';
const NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;
const MAX_PASSWORD_BYTES = 1024;
const FILE_VERSION = 1;

/** scrypt cost parameters, stored with each hash so they can be raised later without breaking old users. */
interface KdfParams {
  N: number;
  r: number;
  p: number;
  keylen: number;
}
const KDF: KdfParams = { N: 16384, r: 8, p: 1, keylen: 32 };

interface StoredUser extends UserSummary {
  /** base64 of 16 random bytes. */
  salt: string;
  /** base64 of the scrypt output. */
  hash: string;
  kdf: KdfParams;
}

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
    if (!NAME_RE.test(name)) {
      throw new UserStoreError('HUB_ERR_USER_NAME', `user names are 1-64 of A-Z a-z 0-9 _ . -, got ${JSON.stringify(name)}`);
    }
    if (!ROLES.includes(role)) {
      throw new UserStoreError('HUB_ERR_USER_ROLE', `role must be one of ${ROLES.join(', ')}, got ${JSON.stringify(role)}`);
    }
    checkPassword(password);
    if (this.#users.has(name)) throw new UserStoreError('HUB_ERR_USER_EXISTS', `user ${name} already exists`);
    const salt = randomBytes(16);
    const hash = await derive(password, salt, KDF);
    // Checked again: another add() of the same name may have finished while scrypt ran.
    if (this.#users.has(name)) throw new UserStoreError('HUB_ERR_USER_EXISTS', `user ${name} already exists`);
    const user: StoredUser = {
      name,
      role,
      createdAt: this.#now(),
      salt: salt.toString('base64'),
      hash: hash.toString('base64'),
      kdf: { ...KDF },
    };
    this.#users.set(name, user);
    this.#save();
    return summary(user);
  }

  /** Every user, sorted by name, without hashes. */
  list(): UserSummary[] {
    return [...this.#users.values()].map(summary).sort((a, b) => a.name.localeCompare(b.name));
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
    const salt = randomBytes(16);
    const hash = await derive(password, salt, KDF);
    const user = this.#users.get(name);
    // Removed while scrypt ran: nothing to change.
    if (!user) return false;
    this.#users.set(name, { ...user, salt: salt.toString('base64'), hash: hash.toString('base64'), kdf: { ...KDF } });
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
    const user = this.#users.get(name);
    const passwordOk = Buffer.byteLength(password) <= MAX_PASSWORD_BYTES;
    // An unknown name still costs one scrypt so that timing does not tell which names exist.
    const salt = user ? Buffer.from(user.salt, 'base64') : Buffer.alloc(16);
    const kdf = user?.kdf ?? KDF;
    const actual = await derive(passwordOk ? password : '', salt, kdf);
    if (!user || !passwordOk) return null;
    const expected = Buffer.from(user.hash, 'base64');
    return expected.length === actual.length && timingSafeEqual(expected, actual) ? user.role : null;
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

function summary(user: StoredUser): UserSummary {
  return { name: user.name, role: user.role, createdAt: user.createdAt };
}

function checkPassword(password: string): void {
  if (typeof password !== 'string' || password.length === 0) {
    throw new UserStoreError('HUB_ERR_USER_PASSWORD', 'the password must not be empty');
  }
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) {
    throw new UserStoreError('HUB_ERR_USER_PASSWORD', `the password is longer than ${MAX_PASSWORD_BYTES} bytes`);
  }
}

function derive(password: string, salt: Buffer, kdf: KdfParams): Promise<Buffer> {
  const options: ScryptOptions = { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: 256 * kdf.N * kdf.r };
  return new Promise((resolve, reject) => {
    scrypt(password, salt, kdf.keylen, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
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
    if (
      !isObject(u) ||
      typeof u['name'] !== 'string' ||
      !NAME_RE.test(u['name']) ||
      !ROLES.includes(u['role'] as Role) ||
      typeof u['salt'] !== 'string' ||
      typeof u['hash'] !== 'string' ||
      typeof u['createdAt'] !== 'number' ||
      !isKdf(u['kdf'])
    ) {
      throw bad(`user #${i} is malformed`);
    }
    if (users.has(u['name'])) throw bad(`user ${u['name']} appears twice`);
    users.set(u['name'], u as unknown as StoredUser);
  }
  return users;
}

function isKdf(v: unknown): v is KdfParams {
  return (
    isObject(v) &&
    ['N', 'r', 'p', 'keylen'].every((k) => Number.isInteger(v[k]) && (v[k] as number) > 0) &&
    // Bounds keep a tampered file from making verify() allocate gigabytes.
    (v['N'] as number) <= 2 ** 20 &&
    (v['r'] as number) <= 32 &&
    (v['p'] as number) <= 16 &&
    (v['keylen'] as number) <= 128
  );
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
