import { describe, it, expect } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runCli, type SimSummary } from './cli.js';

/** The compiled hearth-sim (npm test builds it first). */
const SIM_CLI = fileURLToPath(new URL('../dist/device-sim/cli.js', import.meta.url));
import { testHubs } from './testing/test-hubs.js';

const { defer, startHub } = testHubs({});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-sim-cli-'));
  defer(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) } });
  return { code, out, err };
}

describe('hearth-sim CLI', () => {
  it('runs a fleet from a credentials file over wss and prints one JSON summary (exit 0)', async () => {
    const dir = tempDir();
    const creds = { devices: [{ id: 'kitchen', token: 'k-token', model: 'thermostat' }, { id: 'hall', token: 'h-token', model: 'light' }, { id: 'plug', token: 'p-token' }] };
    const hub = await startHub({ tls: true, tokens: Object.fromEntries(creds.devices.map((d) => [d.id, d.token])) });
    writeFileSync(join(dir, 'creds.json'), JSON.stringify(creds));
    writeFileSync(join(dir, 'ca.pem'), hub.ca!);
    const { code, out, err } = await run(['--hub', hub.url, '--credentials', join(dir, 'creds.json'), '--ca', join(dir, 'ca.pem'), '--rate', '20', '--duration', '300ms', '--json']);
    expect(err).toBe('');
    expect(code).toBe(0);
    const summary = JSON.parse(out) as SimSummary;
    expect(summary).toMatchObject({ ok: true, exitCode: 0, neverConnected: [], lostReadings: 0 });
    expect(summary.stats).toMatchObject({ devices: 3, everConnected: 3, pending: 0, drops: 0 });
    expect(summary.stats.acked).toBeGreaterThan(0);
    expect(hub.device('kitchen').hellos[0]!.model).toBe('Hearth Sim Thermostat T1');
    expect(hub.device('hall').hellos[0]!.model).toBe('Hearth Sim Bulb L2');
    expect(out.trim().split('\n')).toHaveLength(1);
  });

  it('--provision creates the devices through the API, saves their tokens, and a rerun reuses them', async () => {
    const dir = tempDir();
    const hub = await startHub({ adminToken: 'admin-secret' });
    const creds = join(dir, 'creds.json');
    const argv = ['--hub', hub.url, '--mix', 'door_contact=2,air-quality=1', '--provision', '--admin-token', 'admin-secret', '--credentials', creds, '--duration', '100ms', '--json'];
    const first = await run(argv);
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    const saved = JSON.parse(readFileSync(creds, 'utf8')) as { devices: { id: string; token: string; model: string }[] };
    expect(saved.devices.map((d) => [d.id, d.model])).toEqual([
      ['sim-door_contact-1', 'door_contact'],
      ['sim-door_contact-2', 'door_contact'],
      ['sim-air_quality-1', 'air_quality'],
    ]);
    const again = await run(argv);
    expect(again.code).toBe(0);
    expect(JSON.parse(readFileSync(creds, 'utf8')).devices).toHaveLength(3);
  });

  it('--provision with --state-dir keeps the tokens in <state-dir>/credentials.json: the same command runs again', async () => {
    const dir = tempDir();
    const hub = await startHub({ adminToken: 'admin-secret' });
    const argv = ['--hub', hub.url, '--mix', 'light=2', '--provision', '--admin-token', 'admin-secret', '--state-dir', dir, '--duration', '100ms', '--json'];
    expect((await run(argv)).code).toBe(0);
    const saved = JSON.parse(readFileSync(join(dir, 'credentials.json'), 'utf8')) as { devices: { id: string }[] };
    expect(saved.devices.map((d) => d.id)).toEqual(['sim-light-1', 'sim-light-2']);
    const again = await run(argv);
    expect(again.err).toBe('');
    expect(again.code).toBe(0);
    expect((JSON.parse(again.out) as SimSummary).stats.everConnected).toBe(2);
    // A hub reset since (a fresh database): the same command creates the devices again and replaces the stale tokens.
    const fresh = await startHub({ adminToken: 'admin-secret' });
    const reset = await run(argv.map((a) => (a === hub.url ? fresh.url : a)));
    expect(reset.err).toBe('');
    expect(reset.code).toBe(0);
    const resaved = JSON.parse(readFileSync(join(dir, 'credentials.json'), 'utf8')) as { devices: { id: string; token: string }[] };
    expect(resaved.devices.map((d) => d.id).sort()).toEqual(['sim-light-1', 'sim-light-2']);
    expect(resaved.devices.map((d) => d.token)).not.toEqual(saved.devices.map((d) => (d as { token?: string }).token));
  });

  it('prints the final summary when stdout is a pipe, not a terminal (the real process)', async () => {
    const dir = tempDir();
    const hub = await startHub({ acceptAnyToken: true });
    writeFileSync(join(dir, 'creds.json'), JSON.stringify({ devices: [{ id: 'p1', token: 'y', model: 'smart_plug' }] }));
    const child = spawn(process.execPath, [SIM_CLI, '--hub', hub.url, '--credentials', join(dir, 'creds.json'), '--rate', '20', '--duration', '300ms'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
    expect(out).toMatch(/^OK: 1\/1 devices connected, \d+ readings generated/m);
    expect(out).toContain('ACK latency p50');
  });

  it('--provision without the tokens of existing devices is a usage error naming them (exit 2)', async () => {
    const hub = await startHub({ adminToken: 'admin-secret' });
    hub.addDevice('sim-light-1', 'unknown-to-us');
    const { code, err } = await run(['--hub', hub.url, '--mix', 'light=1', '--provision', '--admin-token', 'admin-secret', '--duration', '100ms']);
    expect(code).toBe(2);
    expect(err).toContain('the hub already has sim-light-1 but no token for them is known');
  });

  it('exits 1 when devices never connect, naming them', async () => {
    const dir = tempDir();
    const hub = await startHub({ tokens: { a: 'right' } });
    writeFileSync(join(dir, 'creds.json'), JSON.stringify({ devices: [{ id: 'a', token: 'wrong', model: 'light' }] }));
    const { code, out } = await run(['--hub', hub.url, '--credentials', join(dir, 'creds.json'), '--duration', '200ms']);
    expect(code).toBe(1);
    expect(out).toContain('FAILED: 0/1 devices connected');
    expect(out).toContain('never connected: a');
    expect(out).toContain('401 HUB_ERR_BAD_TOKEN x1');
  });

  it('runs a scenario file', async () => {
    const dir = tempDir();
    const hub = await startHub({ acceptAnyToken: true });
    writeFileSync(join(dir, 'scenario.json'), JSON.stringify([{ id: 'm1', model: 'motion', rate: 5 }, { id: 'p1', model: 'smart_plug' }]));
    writeFileSync(join(dir, 'creds.json'), JSON.stringify({ devices: [{ id: 'm1', token: 'x' }, { id: 'p1', token: 'y' }] }));
    const { code, out } = await run(['--hub', hub.url, '--scenario', join(dir, 'scenario.json'), '--credentials', join(dir, 'creds.json'), '--duration', '100ms', '--json']);
    expect(code).toBe(0);
    expect((JSON.parse(out) as SimSummary).stats.devices).toBe(2);
    expect(hub.device('m1').hellos[0]!.model).toBe('Hearth Sim Motion M1');
  });

  it.each([
    [['--hub', 'wss://h:1', '--devices', '2', '--bogus'], 'unknown flag --bogus'],
    [['--hub', 'wss://h:1', '--devices', '2', '--rate', 'x'], '--rate needs a positive number, got "x"'],
    [['--hub', 'wss://h:1', '--devices', '2'], 'no token for sim-thermostat-1'],
    [['--hub', 'wss://h:1', '--credentials', '/nonexistent/creds.json'], '--credentials: cannot read /nonexistent/creds.json: ENOENT'],
    [['--hub', 'wss://h:1', '--devices', '1', '--ca', '/nonexistent/ca.pem'], '--ca: cannot read /nonexistent/ca.pem'],
  ])('bad usage %j exits 2 and says why', async (argv, message) => {
    const { code, err, out } = await run(argv);
    expect(code).toBe(2);
    expect(err).toContain(message);
    expect(out).toBe('');
  });

  it('--help prints the usage and exits 0', async () => {
    const { code, out } = await run(['--help']);
    expect(code).toBe(0);
    expect(out).toContain('Usage: hearth-sim --hub');
    for (const flag of ['--devices', '--mix', '--rate', '--duration', '--scenario', '--credentials', '--provision', '--admin-token', '--id-prefix', '--seed', '--ca', '--insecure', '--state-dir', '--record', '--json']) expect(out).toContain(flag);
  });
});
