// A throwaway PostgreSQL cluster for tests (hub/storage/testing/pg-cluster.ts) and `npm run bench -- scale`:
// initdb in a temporary directory, a free port, the Unix socket in that directory, pg_ctl start; stop()
// removes it all. Here rather than under testing/ because the benchmark (compiled into dist/) uses it too.
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** The newest /usr/lib/postgresql/<n>/bin holding initdb, or undefined when PostgreSQL is not installed. */
export function findPgBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

/** Why PostgreSQL tests cannot run here, or undefined when they can. */
export function pgUnavailable(): string | undefined {
  return findPgBin() ? undefined : 'PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb; apt-get install postgresql)';
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** One started cluster; `url(db)` is a connection string for a database on it (over its Unix socket). */
export class PgCluster {
  readonly dir: string;
  readonly port: number;
  readonly #bin: string;
  readonly #asPostgres: boolean;
  #dbs = 0;

  private constructor(dir: string, port: number, bin: string, asPostgres: boolean) {
    this.dir = dir;
    this.port = port;
    this.#bin = bin;
    this.#asPostgres = asPostgres;
  }

  /** initdb + pg_ctl start in a new temp directory; throws when PostgreSQL is missing or does not start. */
  static async start(): Promise<PgCluster> {
    const bin = findPgBin();
    if (!bin) throw new Error(pgUnavailable());
    const dir = mkdtempSync(join(tmpdir(), 'hearth-pg-'));
    const asPostgres = process.getuid?.() === 0; // postgres refuses to run as root
    if (asPostgres) {
      const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
      chownSync(dir, uid, gid);
    }
    const cluster = new PgCluster(dir, await freePort(), bin, asPostgres);
    try {
      cluster.#run('initdb', ['-D', join(dir, 'data'), '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync']);
      const opts = `-p ${cluster.port} -k ${dir} -c listen_addresses='' -c fsync=off -c full_page_writes=off -c max_connections=100`;
      cluster.#run('pg_ctl', ['-D', join(dir, 'data'), '-o', opts, '-l', join(dir, 'log'), '-w', '-t', '60', 'start']);
    } catch (err) {
      const log = existsSync(join(dir, 'log')) ? readFileSync(join(dir, 'log'), 'utf8').slice(-2000) : '';
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`PostgreSQL did not start: ${(err as Error).message}\n${log}`);
    }
    return cluster;
  }

  /** Connection string of database `db` on this cluster. */
  url(db = 'postgres'): string {
    return `postgres://postgres@localhost:${this.port}/${db}?host=${encodeURIComponent(this.dir)}`;
  }

  /** Creates a new empty database and returns its URL. */
  async createDatabase(prefix = 'test'): Promise<string> {
    const name = `${prefix}_${process.pid}_${++this.#dbs}`;
    const client = new pg.Client({ connectionString: this.url() });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE ${name}`);
    } finally {
      await client.end();
    }
    return this.url(name);
  }

  /** PID of the postmaster (its children are the server's backends). */
  postmasterPid(): number {
    return Number(readFileSync(join(this.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
  }

  /** pg_ctl stop (fast) and removes the directory; safe to call twice. */
  stop(): void {
    if (!existsSync(this.dir)) return;
    try {
      this.#run('pg_ctl', ['-D', join(this.dir, 'data'), '-m', 'fast', '-w', 'stop']);
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  #run(tool: string, args: string[]): void {
    const cmd = join(this.#bin, tool);
    if (this.#asPostgres) execFileSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { stdio: 'pipe' });
    else execFileSync(cmd, args, { stdio: 'pipe' });
  }
}
