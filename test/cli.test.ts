import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

// The CLI as a user runs it: the compiled bin (npm test builds first), real files, real exit codes.
const CLI = fileURLToPath(new URL('../dist/hub/cli.js', import.meta.url));
let dir: string;

function hearth(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    cwd: dir,
    env: { PATH: process.env.PATH, ...opts.env },
    input: opts.input ?? '',
    timeout: 20_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hearth-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('hearth CLI', () => {
  it('prints help on every level and its version', () => {
    expect(hearth(['--help'])).toMatchObject({ code: 0, out: expect.stringContaining('Commands:') });
    expect(hearth(['device', '--help'])).toMatchObject({ code: 0, out: expect.stringContaining('hearth device add <id>') });
    expect(hearth(['start', '--help']).out).toContain('--mqtt-tls-port');
    expect(hearth(['--version']).out.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("prints package.json's version, read at run time by the compiled bin", () => {
    const { version } = JSON.parse(readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8')) as { version: string };
    expect(hearth(['--version'])).toMatchObject({ code: 0, out: `${version}\n` });
    expect(hearth(['--help']).out.split('\n')[0]).toBe(`hearth ${version}: the Hearth smart-home hub`);
  });

  it('exits 2 naming an unknown command or flag', () => {
    expect(hearth(['frobnicate'])).toMatchObject({ code: 2, err: expect.stringContaining('unknown command "frobnicate"') });
    expect(hearth(['start', '--prot', '1'])).toMatchObject({ code: 2, err: expect.stringContaining("'--prot'") });
    expect(hearth(['device', 'add'])).toMatchObject({ code: 2, err: expect.stringContaining('usage: hearth device add') });
  });

  it('exits 3 listing every configuration problem at once', () => {
    const r = hearth(['config', 'print', '--port', 'eighty'], { env: { HEARTH_RETENTION_RAW_DAYS: '0', HEARTH_LOG_LEVEL: 'chatty' } });
    expect(r.code).toBe(3);
    expect(r.err).toContain('port (HEARTH_PORT, --port): expected a whole number, got "eighty"');
    expect(r.err).toContain('retention.rawDays (HEARTH_RETENTION_RAW_DAYS, --retention-raw-days): expected at least 1');
    expect(r.err).toContain('log.level');
  });

  it('prints the effective configuration with secrets masked, file < env < flag', () => {
    writeFileSync(join(dir, 'hearth.json'), JSON.stringify({ port: 9000, mqtt: { password: 'hunter2', baseTopic: 'fromfile' } }));
    const r = hearth(['config', 'print', '--mqtt-base-topic', 'fromflag'], { env: { HEARTH_PORT: '9443' } });
    rmSync(join(dir, 'hearth.json'));
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.out) as Record<string, unknown>;
    expect(printed).toMatchObject({ port: 9443, 'mqtt.password': '********', 'mqtt.baseTopic': 'fromflag' });
    expect(r.out).not.toContain('hunter2');
  });

  it('reads hearth.yaml too, and names a YAML mistake', () => {
    writeFileSync(join(dir, 'hearth.yaml'), 'port: 9100\nmqtt:\n  baseTopic: house\n  port: off\n');
    const ok = hearth(['config', 'print']);
    writeFileSync(join(dir, 'hearth.yaml'), 'port: [unclosed\n');
    const bad = hearth(['config', 'print']);
    rmSync(join(dir, 'hearth.yaml'));
    expect(JSON.parse(ok.out)).toMatchObject({ port: 9100, 'mqtt.baseTopic': 'house', 'mqtt.port': null });
    expect(bad).toMatchObject({ code: 3, err: expect.stringContaining('hearth.yaml') });
  });

  it('refuses an unknown key in hearth.json', () => {
    writeFileSync(join(dir, 'hearth.json'), JSON.stringify({ prot: 1 }));
    const r = hearth(['config', 'print']);
    rmSync(join(dir, 'hearth.json'));
    expect(r).toMatchObject({ code: 3, err: expect.stringContaining('unknown setting "prot"') });
  });

  it('adds, lists and revokes devices; the token is printed once and stored only hashed', () => {
    const data = join(dir, 'data');
    const creds = join(dir, 'fleet.json');
    const added = hearth(['device', 'add', 'porch-light', '--type', 'light', '--data-dir', data, '--credentials', creds]);
    expect(added.code).toBe(0);
    const token = added.out.trim().split('\n').pop()!;
    expect(token).toMatch(/^hd1_/);
    expect(JSON.parse(readFileSync(creds, 'utf8'))).toEqual({ devices: [{ id: 'porch-light', token, model: 'light' }] });
    const db = new Database(join(data, 'hearth.db'), { readonly: true });
    const dump = JSON.stringify(db.prepare('SELECT * FROM devices').all());
    db.close();
    expect(dump).not.toContain(token);
    expect(hearth(['device', 'add', 'porch-light', '--data-dir', data])).toMatchObject({ code: 1, err: expect.stringContaining('exists') });
    expect(hearth(['device', 'list', '--data-dir', data]).out).toContain('porch-light');
    expect(hearth(['device', 'revoke', 'porch-light', '--data-dir', data]).code).toBe(0);
    const listed = JSON.parse(hearth(['device', 'list', '--json', '--data-dir', data]).out) as { id: string; revoked: boolean }[];
    expect(listed).toEqual([expect.objectContaining({ id: 'porch-light', revoked: true })]);
    expect(hearth(['device', 'revoke', 'porch-light', '--data-dir', data])).toMatchObject({ code: 1 });
  });

  it('adds users with a password from stdin and refuses a bad role', () => {
    const data = join(dir, 'data-users');
    expect(hearth(['user', 'add', 'ann', '--role', 'viewer', '--data-dir', data], { input: 's3cret-pass\n' }).code).toBe(0);
    expect(hearth(['user', 'add', 'bob', '--role', 'king', '--password', 'x', '--data-dir', data])).toMatchObject({ code: 2, err: expect.stringContaining('--role') });
    expect(hearth(['user', 'list', '--data-dir', data]).out).toMatch(/ann\s+viewer/);
    expect(readFileSync(join(data, 'users.json'), 'utf8')).not.toContain('s3cret-pass');
    expect(hearth(['user', 'remove', 'ann', '--data-dir', data]).code).toBe(0);
  });

  it('backs up the database to a readable copy', () => {
    const data = join(dir, 'data');
    const out = join(dir, 'backup.db');
    expect(hearth(['backup', out, '--data-dir', data]).code).toBe(0);
    expect(existsSync(out)).toBe(true);
    const db = new Database(out, { readonly: true });
    expect((db.prepare('SELECT count(*) AS n FROM devices').get() as { n: number }).n).toBe(1);
    db.close();
  });
});
