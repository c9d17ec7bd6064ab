import type pg from 'pg';
import type { SessionRow, SharedCredentialRows } from '../../auth/credential-stores.js';
import type { Role, StoredUser } from '../../auth/user-rules.js';

interface UserRow {
  name: string;
  role: Role;
  created_at: number;
  salt: string;
  hash: string;
  kdf_n: number;
  kdf_r: number;
  kdf_p: number;
  kdf_keylen: number;
}

const toUser = (r: UserRow): StoredUser => ({
  name: r.name, role: r.role, createdAt: r.created_at, salt: r.salt, hash: r.hash,
  kdf: { N: r.kdf_n, r: r.kdf_r, p: r.kdf_p, keylen: r.kdf_keylen },
});

/** PostgreSQL's unique_violation: a name another hub (or the CLI) took first. */
const UNIQUE_VIOLATION = '23505';

/**
 * Users, dashboard sessions and the admin token in PostgreSQL (migration 3), as rows: the rules (names,
 * hashes, expiry) stay in hub/auth. Sessions are keyed by the digest of their token.
 */
export class PgAuth implements SharedCredentialRows {
  readonly #pool: () => pg.Pool;

  constructor(pool: () => pg.Pool) {
    this.#pool = pool;
  }

  async user(name: string): Promise<StoredUser | undefined> {
    const { rows } = await this.#pool().query<UserRow>('SELECT * FROM users WHERE name = $1', [name]);
    return rows[0] && toUser(rows[0]);
  }

  async users(): Promise<StoredUser[]> {
    return (await this.#pool().query<UserRow>('SELECT * FROM users ORDER BY name')).rows.map(toUser);
  }

  async countUsers(): Promise<number> {
    return (await this.#pool().query<{ n: number }>('SELECT count(*) AS n FROM users')).rows[0]!.n;
  }

  async insertUser(u: StoredUser): Promise<boolean> {
    try {
      await this.#pool().query(
        'INSERT INTO users (name, role, created_at, salt, hash, kdf_n, kdf_r, kdf_p, kdf_keylen) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)',
        [u.name, u.role, u.createdAt, u.salt, u.hash, u.kdf.N, u.kdf.r, u.kdf.p, u.kdf.keylen],
      );
      return true;
    } catch (err) {
      if ((err as { code?: string }).code === UNIQUE_VIOLATION) return false;
      throw err;
    }
  }

  async updateUserHash(name: string, h: Pick<StoredUser, 'salt' | 'hash' | 'kdf'>): Promise<boolean> {
    const { rowCount } = await this.#pool().query(
      'UPDATE users SET salt = $2, hash = $3, kdf_n = $4, kdf_r = $5, kdf_p = $6, kdf_keylen = $7 WHERE name = $1',
      [name, h.salt, h.hash, h.kdf.N, h.kdf.r, h.kdf.p, h.kdf.keylen],
    );
    return rowCount === 1;
  }

  async deleteUser(name: string): Promise<boolean> {
    return (await this.#pool().query('DELETE FROM users WHERE name = $1', [name])).rowCount === 1;
  }

  async insertSession(s: SessionRow, max: number): Promise<void> {
    const pool = this.#pool();
    await pool.query('INSERT INTO dashboard_sessions (token_hash, username, role, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)', [
      s.tokenHash, s.username, s.role, s.createdAt, s.expiresAt,
    ]);
    // The bound on live sessions: the ones that expire soonest go first (dashboard_sessions_expires).
    await pool.query(
      'DELETE FROM dashboard_sessions WHERE expires_at < (SELECT expires_at FROM dashboard_sessions ORDER BY expires_at DESC OFFSET $1 - 1 LIMIT 1)',
      [max],
    );
  }

  async liveSession(tokenHash: string, now: number, slideTo?: number): Promise<SessionRow | undefined> {
    // Joined with its user: a session of a user removed, or given another role, is not live.
    const live = `SELECT s.token_hash FROM dashboard_sessions s JOIN users u ON u.name = s.username AND u.role = s.role
                  WHERE s.token_hash = $1 AND s.expires_at > $2`;
    const { rows } =
      slideTo === undefined
        ? await this.#pool().query<SessionRowDb>(`SELECT * FROM dashboard_sessions WHERE token_hash IN (${live})`, [tokenHash, now])
        : await this.#pool().query<SessionRowDb>(
            `UPDATE dashboard_sessions SET expires_at = greatest(expires_at, $3) WHERE token_hash IN (${live}) RETURNING *`,
            [tokenHash, now, slideTo],
          );
    const r = rows[0];
    return r && { tokenHash: r.token_hash, username: r.username, role: r.role, createdAt: r.created_at, expiresAt: r.expires_at };
  }

  async deleteSession(tokenHash: string): Promise<boolean> {
    return (await this.#pool().query('DELETE FROM dashboard_sessions WHERE token_hash = $1', [tokenHash])).rowCount === 1;
  }

  async deleteUserSessions(username: string): Promise<number> {
    return (await this.#pool().query('DELETE FROM dashboard_sessions WHERE username = $1', [username])).rowCount ?? 0;
  }

  async deleteExpiredSessions(now: number): Promise<number> {
    return (await this.#pool().query('DELETE FROM dashboard_sessions WHERE expires_at <= $1', [now])).rowCount ?? 0;
  }

  async adminToken(candidate: string): Promise<{ token: string; created: boolean }> {
    // Two hubs starting at once: one insert wins, both read the winner's token.
    const pool = this.#pool();
    const inserted = await pool.query('INSERT INTO admin_token (id, token, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING', [candidate, Date.now()]);
    const { rows } = await pool.query<{ token: string }>('SELECT token FROM admin_token WHERE id = 1');
    return { token: rows[0]!.token, created: inserted.rowCount === 1 };
  }
}

interface SessionRowDb {
  token_hash: string;
  username: string;
  role: Role;
  created_at: number;
  expires_at: number;
}
