// db.url (HEARTH_DB_URL, --db-url): validated at start-up like every setting, masked when printed, and used by
// `hearth start`: a server it cannot reach fails the start, never a silent fallback to SQLite (issue #16).
// The hub on a real PostgreSQL: hub-postgres.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { EXIT, main } from '../hub/cli.js';
import { ConfigError, loadConfig, printableConfig } from '../hub/config.js';

const dir = mkdtempSync(join(tmpdir(), 'hearth-dburl-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function problems(url: string): string[] {
  try {
    loadConfig({ file: null, env: { HEARTH_DB_URL: url } });
    return [];
  } catch (err) {
    return (err as ConfigError).problems;
  }
}

describe('db.url', () => {
  it('accepts postgres:// and postgresql:// URLs, with a Unix socket directory as ?host=', () => {
    for (const url of ['postgres://hearth@db:5432/hearth', 'postgresql://u:p@10.0.0.2/hearth', 'postgres://u@localhost/h?host=/run/postgresql']) {
      expect({ url, problems: problems(url) }).toEqual({ url, problems: [] });
    }
    expect(loadConfig({ file: null })['db.url']).toBeNull();
  });

  it.each([
    ['not a url', 'expected a URL'],
    ['mysql://u@h/db', 'expected a postgres:// or postgresql:// URL'],
    ['postgres://u@h:99999/db', 'expected a URL'],
    ['postgres://u@h:5432', 'expected a database name'],
    ['postgres:///db', 'expected a host'],
  ])('refuses %s, naming the key, variable and flag', (url, why) => {
    const [p, ...rest] = problems(url);
    expect(rest).toEqual([]);
    expect(p).toContain('db.url (HEARTH_DB_URL, --db-url)');
    expect(p).toContain(why);
  });

  it('masks credentials in the problem and in config print', () => {
    expect(problems('mysql://ann:secret@h/db')[0]).not.toContain('secret');
    const printed = printableConfig(loadConfig({ file: null, env: { HEARTH_DB_URL: 'postgres://ann:secret@db/hearth' } }));
    expect(printed['db.url']).toBe('postgres://********@db/hearth');
  });

  it('makes `hearth start` fail with a clear message, not run on SQLite, when the server cannot be reached', async () => {
    const err: string[] = [];
    const io = { out: { write: () => true }, err: { write: (t: string) => (err.push(t), true) }, stdin: process.stdin } as unknown as Parameters<typeof main>[1];
    const code = await main(['start', '--db-url', 'postgres://hearth:secret@127.0.0.1:1/hearth', '--data-dir', dir, '--port', '0', '--mqtt-port', 'off', '--mqtt-tls-port', 'off'], io);
    expect(code).toBe(EXIT.FAILED);
    expect(err.join('')).toContain('HUB_ERR_DB_UNREACHABLE: cannot connect to PostgreSQL at 127.0.0.1:1/hearth');
    expect(err.join('')).not.toContain('secret');
  });
});
