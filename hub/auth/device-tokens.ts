import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { NewDevice } from '../storage/types.js';

// Device tokens are 192-bit random secrets, so a salted SHA-256 is enough to keep a stolen database from
// yielding usable tokens; a slow KDF (scrypt) would cost ~50 ms per connect and stall 10,000 reconnecting
// devices for minutes. User passwords, which humans choose, use scrypt (hub/auth/user-store.ts).

/** A new random device token, URL-safe. */
export function newToken(): string {
  return `hd1_${randomBytes(24).toString('base64url')}`;
}

export function hashToken(token: string, salt = randomBytes(16).toString('hex')): { salt: string; hash: string } {
  return { salt, hash: createHash('sha256').update(salt).update(token).digest('hex') };
}

/** True when `token` hashes to `hash` under `salt`, compared in constant time. */
export function verifyToken(token: string, salt: string, hash: string): boolean {
  const candidate = Buffer.from(hashToken(token, salt).hash, 'hex');
  const expected = Buffer.from(hash, 'hex');
  return candidate.length === expected.length && timingSafeEqual(candidate, expected);
}

/** A new device's stored record (hash only) and its token, which is shown once and never stored. */
export function newDeviceCredentials(id: string, name: string, type: string, createdAt: number): { record: NewDevice; token: string } {
  const token = newToken();
  const { salt, hash } = hashToken(token);
  return { record: { id, name: name || id, type, tokenSalt: salt, tokenHash: hash, createdAt }, token };
}
