// Helpers for the MQTT tests: Mosquitto's binaries (broker, sub, pub, passwd) spawned for real, mqtt.js
// clients that collect messages, and bounded waits (test/support/eventually.ts) instead of sleeps.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { eventually } from '../../../test/support/eventually.js';
import type { MqttLogger } from '../logger.js';

export const MOSQUITTO = '/usr/sbin/mosquitto';
export const MOSQUITTO_SUB = '/usr/bin/mosquitto_sub';
export const MOSQUITTO_PUB = '/usr/bin/mosquitto_pub';
export const MOSQUITTO_PASSWD = '/usr/bin/mosquitto_passwd';

/** Whether Mosquitto's binaries are installed; the reason names the missing one. */
export function mosquittoAvailability(): { ok: true } | { ok: false; reason: string } {
  for (const bin of [MOSQUITTO, MOSQUITTO_SUB, MOSQUITTO_PUB, MOSQUITTO_PASSWD]) {
    if (!fs.existsSync(bin)) {
      return { ok: false, reason: `${bin} is missing: apt-get install mosquitto mosquitto-clients` };
    }
  }
  return { ok: true };
}

/** Decides whether Mosquitto tests run: 'run', or 'skip' with a printed reason; throws under CI=true. */
export function mosquittoGate(): 'run' | 'skip' {
  const a = mosquittoAvailability();
  if (a.ok) return 'run';
  if (process.env['CI'] === 'true') return 'run'; // requireMosquitto() in beforeAll then fails the suite
  console.warn(`SKIPPED Mosquitto tests: ${a.reason}`);
  return 'skip';
}

/** Throws with the reason when Mosquitto is missing (so that CI fails instead of skipping). */
export function requireMosquitto(): void {
  const a = mosquittoAvailability();
  if (!a.ok) throw new Error(a.reason);
}

export interface ProcResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end (bounded by timeoutMs, then killed). */
export function run(bin: string, args: string[], timeoutMs = 10_000): Promise<ProcResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** mosquitto_sub until `count` messages arrived (-C) or `waitS` seconds passed (-W); lines are "topic payload". */
export function mosquittoSub(opts: {
  port: number;
  topics: string[];
  count: number;
  user?: string;
  password?: string;
  waitS?: number;
  extra?: string[];
}): Promise<ProcResult> {
  const args = ['-h', '127.0.0.1', '-p', String(opts.port), '-v', '-C', String(opts.count), '-W', String(opts.waitS ?? 5)];
  if (opts.user !== undefined) args.push('-u', opts.user);
  if (opts.password !== undefined) args.push('-P', opts.password);
  for (const t of opts.topics) args.push('-t', t);
  args.push(...(opts.extra ?? []));
  return run(MOSQUITTO_SUB, args, ((opts.waitS ?? 5) + 5) * 1000);
}

/** Parses mosquitto_sub -v output into topic -> last payload. */
export function parseSubLines(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    if (!line) continue;
    const sp = line.indexOf(' ');
    out.set(sp === -1 ? line : line.slice(0, sp), sp === -1 ? '' : line.slice(sp + 1));
  }
  return out;
}

export function mosquittoPub(opts: { port: number; topic: string; message: string; user?: string; password?: string }): Promise<ProcResult> {
  const args = ['-h', '127.0.0.1', '-p', String(opts.port), '-t', opts.topic, '-m', opts.message];
  if (opts.user !== undefined) args.push('-u', opts.user);
  if (opts.password !== undefined) args.push('-P', opts.password);
  return run(MOSQUITTO_PUB, args);
}

/** A free loopback port (bound then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A real Mosquitto on 127.0.0.1 with a password file; stop() and start() again keep the same port. */
export class MosquittoServer {
  readonly port: number;
  readonly #dir: string;
  #proc: ChildProcess | null = null;
  log = '';

  constructor(dir: string, port: number) {
    this.#dir = dir;
    this.port = port;
  }

  /** Writes the config and password file (users: name -> password), with `extra` config lines. */
  configure(users: Record<string, string>, extra: readonly string[] = []): void {
    const passwd = path.join(this.#dir, 'passwd');
    let first = true;
    for (const [name, password] of Object.entries(users)) {
      const r = spawnSync(MOSQUITTO_PASSWD, first ? ['-b', '-c', passwd, name, password] : ['-b', passwd, name, password]);
      if (r.status !== 0) throw new Error(`mosquitto_passwd failed: ${r.stderr.toString()}`);
      first = false;
    }
    // Mosquitto 2 refuses a password file readable by others.
    fs.chmodSync(passwd, 0o600);
    fs.writeFileSync(
      path.join(this.#dir, 'mosquitto.conf'),
      [
        // As root Mosquitto would switch to the 'mosquitto' user, which cannot read this private temp dir.
        ...(process.getuid?.() === 0 ? ['user root'] : []),
        `listener ${this.port} 127.0.0.1`,
        'allow_anonymous false',
        `password_file ${passwd}`,
        'persistence false',
        'log_dest stderr',
        'log_type error',
        'log_type warning',
        'log_type notice',
        ...extra,
        '',
      ].join('\n'),
    );
  }

  /** Spawns Mosquitto and resolves once it accepts TCP connections (rejects at once if it exits). */
  async start(): Promise<void> {
    const proc = spawn(MOSQUITTO, ['-c', path.join(this.#dir, 'mosquitto.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#proc = proc;
    proc.stdout?.on('data', (d: Buffer) => (this.log += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (this.log += d.toString()));
    const exited = new Promise<never>((_, reject) => proc.once('exit', (code) => reject(new Error(`mosquitto exited with ${code}: ${this.log}`))));
    exited.catch(() => {}); // after a successful start, a later exit (stop()) is no failure
    await Promise.race([exited, eventually(() => canConnect(this.port), { timeoutMs: 10_000, what: () => `mosquitto to listen: ${this.log}` })]);
  }

  /** Stops Mosquitto and waits for the process to end. */
  async stop(): Promise<void> {
    const proc = this.#proc;
    this.#proc = null;
    if (!proc || proc.exitCode !== null) return;
    const ended = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    await ended;
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface Received {
  topic: string;
  payload: string;
  retain: boolean;
}

/** Records every message an mqtt.js client receives. */
export function record(client: MqttClient): Received[] {
  const got: Received[] = [];
  client.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), retain: packet.retain }));
  return got;
}

/** Waits until a message on `topic` (matching `pred`) was received; returns it. */
export async function waitForMessage(
  got: Received[],
  topic: string,
  pred: (r: Received) => boolean = () => true,
  timeoutMs = 5000,
): Promise<Received> {
  return eventually(() => got.find((r) => r.topic === topic && pred(r)) ?? false, {
    timeoutMs,
    what: () => `a message on ${topic}; got ${got.map((r) => r.topic).join(', ')}`,
  });
}

export interface LogRecord {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: Record<string, unknown>;
  msg: string;
}

/** A logger that keeps what it is told, for asserting that a refusal was logged. */
export function memoryLogger(): MqttLogger & { records: LogRecord[] } {
  const records: LogRecord[] = [];
  const at = (level: LogRecord['level']) => (obj: object, msg: string) => records.push({ level, obj: obj as Record<string, unknown>, msg });
  return { records, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/**
 * A Mosquitto for one suite: started in a temp directory with these users (name -> password); the clients
 * client() connects end at stop(), which also stops the broker and deletes the directory.
 */
export class SuiteMosquitto {
  readonly #users: Record<string, string>;
  readonly #clients: MqttClient[] = [];
  #dir = '';
  #server: MosquittoServer | undefined;

  constructor(users: Record<string, string>) {
    this.#users = users;
  }

  async start(): Promise<void> {
    requireMosquitto();
    this.#dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-mosq-'));
    this.#server = new MosquittoServer(this.#dir, await freePort());
    this.#server.configure(this.#users);
    await this.#server.start();
  }

  get port(): number {
    return this.#server!.port;
  }

  /** An mqtt.js client logged in as `user`, without reconnects. */
  async client(user: string): Promise<MqttClient> {
    const c = await connectAsync(`mqtt://127.0.0.1:${this.port}`, { username: user, password: this.#users[user]!, reconnectPeriod: 0 });
    this.#clients.push(c);
    return c;
  }

  async stop(): Promise<void> {
    await Promise.all(this.#clients.splice(0).map((c) => c.endAsync(true)));
    await this.#server?.stop();
    if (this.#dir) fs.rmSync(this.#dir, { recursive: true, force: true });
  }
}
