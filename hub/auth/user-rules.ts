import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

// The rules of a user, kept in one place for both homes of users: users.json (UserStore) and the shared
// PostgreSQL database (SharedUserStore). Names, roles, password bounds and the scrypt hash.

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

export const NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;
const MAX_PASSWORD_BYTES = 1024;

/** scrypt cost parameters, stored with each hash so they can be raised later without breaking old users. */
export interface KdfParams {
  N: number;
  r: number;
  p: number;
  keylen: number;
}
const KDF: KdfParams = { N: 16384, r: 8, p: 1, keylen: 32 };

/** A user as stored: the summary plus its salted scrypt hash. */
export interface StoredUser extends UserSummary {
  /** base64 of 16 random bytes. */
  salt: string;
  /** base64 of the scrypt output. */
  hash: string;
  kdf: KdfParams;
}

/** Throws HUB_ERR_USER_NAME / _ROLE / _PASSWORD for a user that may not be added. */
export function checkNewUser(name: string, password: string, role: Role): void {
  if (!NAME_RE.test(name)) {
    throw new UserStoreError('HUB_ERR_USER_NAME', `user names are 1-64 of A-Z a-z 0-9 _ . -, got ${JSON.stringify(name)}`);
  }
  if (!ROLES.includes(role)) {
    throw new UserStoreError('HUB_ERR_USER_ROLE', `role must be one of ${ROLES.join(', ')}, got ${JSON.stringify(role)}`);
  }
  checkPassword(password);
}

/** Throws HUB_ERR_USER_PASSWORD for an empty or over-long password. */
export function checkPassword(password: string): void {
  if (typeof password !== 'string' || password.length === 0) {
    throw new UserStoreError('HUB_ERR_USER_PASSWORD', 'the password must not be empty');
  }
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) {
    throw new UserStoreError('HUB_ERR_USER_PASSWORD', `the password is longer than ${MAX_PASSWORD_BYTES} bytes`);
  }
}

/** A fresh salt and the scrypt hash of `password` under the current cost parameters. */
export async function hashPassword(password: string): Promise<Pick<StoredUser, 'salt' | 'hash' | 'kdf'>> {
  const salt = randomBytes(16);
  const hash = await derive(password, salt, KDF);
  return { salt: salt.toString('base64'), hash: hash.toString('base64'), kdf: { ...KDF } };
}

/** The user's role when the password is right, else null. Costs one scrypt (~30 ms) either way. */
export async function verifyPassword(user: StoredUser | undefined, password: string): Promise<Role | null> {
  const passwordOk = Buffer.byteLength(password) <= MAX_PASSWORD_BYTES;
  // An unknown name still costs one scrypt so that timing does not tell which names exist.
  const salt = user ? Buffer.from(user.salt, 'base64') : Buffer.alloc(16);
  const kdf = user?.kdf ?? KDF;
  const actual = await derive(passwordOk ? password : '', salt, kdf);
  if (!user || !passwordOk) return null;
  const expected = Buffer.from(user.hash, 'base64');
  return expected.length === actual.length && timingSafeEqual(expected, actual) ? user.role : null;
}

function derive(password: string, salt: Buffer, kdf: KdfParams): Promise<Buffer> {
  const options: ScryptOptions = { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: 256 * kdf.N * kdf.r };
  return new Promise((resolve, reject) => {
    scrypt(password, salt, kdf.keylen, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** Whether `v` is a stored user (read from users.json or the database): a tampered one is refused. */
export function isStoredUser(u: unknown): u is StoredUser {
  return (
    isObject(u) &&
    typeof u['name'] === 'string' &&
    NAME_RE.test(u['name']) &&
    ROLES.includes(u['role'] as Role) &&
    typeof u['salt'] === 'string' &&
    typeof u['hash'] === 'string' &&
    typeof u['createdAt'] === 'number' &&
    isKdf(u['kdf'])
  );
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

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
