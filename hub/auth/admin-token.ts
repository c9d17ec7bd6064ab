import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const ADMIN_TOKEN_FILE = 'admin.token';

/** A fresh admin API token. */
export function newAdminToken(): string {
  return `ha1_${randomBytes(24).toString('base64url')}`;
}

/** The token in dataDir/admin.token, or undefined when there is no such file. */
export function readAdminToken(dataDir: string): string | undefined {
  const path = join(dataDir, ADMIN_TOKEN_FILE);
  return existsSync(path) ? readFileSync(path, 'utf8').trim() : undefined;
}

/** Writes dataDir/admin.token (0600); returns its path. */
export function writeAdminToken(dataDir: string, token: string): string {
  const path = join(dataDir, ADMIN_TOKEN_FILE);
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  return path;
}

/** The admin API token in dataDir/admin.token (0600), created on first start; `created` tells which. */
export function loadOrCreateAdminToken(dataDir: string): { token: string; path: string; created: boolean } {
  const existing = readAdminToken(dataDir);
  if (existing !== undefined) return { token: existing, path: join(dataDir, ADMIN_TOKEN_FILE), created: false };
  const token = newAdminToken();
  return { token, path: writeAdminToken(dataDir, token), created: true };
}
