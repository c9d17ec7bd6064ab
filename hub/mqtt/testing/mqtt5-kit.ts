// Helpers for the MQTT 5 tests: Home Assistant's client library (paho-mqtt, through paho-client.py) run as
// a real process, its JSON-line events collected; waits are bounded (test/support/eventually.ts).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { eventually } from '../../../test/support/eventually.js';

/** Debian's python, which has python3-paho-mqtt (a pyenv shim on PATH may not). */
export const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./paho-client.py', import.meta.url));

/** Whether paho-mqtt is importable by PYTHON; the reason names what is missing. */
export function pahoAvailability(): { ok: true } | { ok: false; reason: string } {
  if (!fs.existsSync(PYTHON)) return { ok: false, reason: `${PYTHON} is missing: apt-get install python3 python3-paho-mqtt` };
  const r = spawnSync(PYTHON, ['-c', 'import paho.mqtt.client']);
  return r.status === 0 ? { ok: true } : { ok: false, reason: 'python3-paho-mqtt is missing: apt-get install python3-paho-mqtt' };
}

/** 'run', or 'skip' with a printed reason; under CI=true always 'run' (requirePaho() then fails the suite). */
export function pahoGate(): 'run' | 'skip' {
  const a = pahoAvailability();
  if (a.ok || process.env['CI'] === 'true') return 'run';
  console.warn(`SKIPPED paho-mqtt tests: ${a.reason}`);
  return 'skip';
}

/** Throws with the reason when paho-mqtt is missing. */
export function requirePaho(): void {
  const a = pahoAvailability();
  if (!a.ok) throw new Error(a.reason);
}

/** What paho-client.py takes (see the script). */
export interface PahoScenario {
  port: number;
  version?: 4 | 5;
  transport?: 'tcp' | 'websockets';
  path?: string;
  /** PEM file of the CA to trust: TLS on. */
  ca?: string;
  username?: string;
  password?: string;
  clientId?: string;
  will?: { topic: string; payload: string; qos?: number; retain?: boolean; delay?: number };
  subscribe?: [string, number][];
  publish?: { topic: string; payload: string; qos?: number; retain?: boolean; contentType?: string }[];
  /** Messages to wait for before disconnecting. */
  expect?: number;
  timeout?: number;
  /** Stay connected after `ready` until killed. */
  hold?: boolean;
}

export interface PahoEvent {
  event: 'connack' | 'suback' | 'message' | 'published' | 'disconnect' | 'error' | 'ready' | 'end';
  rc?: number;
  granted?: number[];
  topic?: string;
  payload?: string;
  qos?: number;
  retain?: boolean;
  properties?: { contentType?: string; userProperties?: [string, string][] };
  error?: string;
}

/** A running paho-client.py. */
export class PahoRun {
  readonly events: PahoEvent[] = [];
  readonly proc: ChildProcess;
  stderr = '';
  readonly ended: Promise<number | null>;

  constructor(scenario: PahoScenario) {
    this.proc = spawn(PYTHON, [SCRIPT, JSON.stringify(scenario)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    this.proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) this.events.push(JSON.parse(line) as PahoEvent);
      }
    });
    this.proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), ((scenario.timeout ?? 10) + 70) * 1000);
    this.ended = new Promise((resolve) =>
      this.proc.once('close', (code) => {
        clearTimeout(timer);
        resolve(code);
      }),
    );
  }

  /** Waits for an event matching `pred`. */
  waitFor(pred: (e: PahoEvent) => boolean, what: string, timeoutMs = 15_000): Promise<PahoEvent> {
    return eventually(() => this.events.find(pred) ?? false, { timeoutMs, what: () => `paho ${what}; events ${JSON.stringify(this.events)} ${this.stderr}` });
  }

  /** Kills the process without a DISCONNECT (the broker then publishes its will). */
  async kill(): Promise<void> {
    this.proc.kill('SIGKILL');
    await this.ended;
  }
}

/** Runs a scenario to its end. */
export async function paho(scenario: PahoScenario): Promise<PahoEvent[]> {
  const run = new PahoRun(scenario);
  const code = await run.ended;
  if (code !== 0 && !run.events.some((e) => e.event === 'connack')) throw new Error(`paho-client.py exited ${code}: ${run.stderr}`);
  return run.events;
}

/** A program whose stdout lines a test watches while it runs (mosquitto_sub holding a subscription). */
export class LineProcess {
  readonly lines: string[] = [];
  readonly proc: ChildProcess;
  stderr = '';
  readonly ended: Promise<number | null>;

  constructor(bin: string, args: string[], timeoutMs = 30_000) {
    this.proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    this.proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        this.lines.push(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    });
    this.proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs);
    this.ended = new Promise((resolve) =>
      this.proc.once('close', (code) => {
        clearTimeout(timer);
        resolve(code);
      }),
    );
  }

  /** Waits for a line matching `pred`. */
  waitFor(pred: (line: string) => boolean, what: string, timeoutMs = 10_000): Promise<string> {
    return eventually(() => this.lines.find(pred) ?? false, { timeoutMs, what: () => `${what}; lines ${JSON.stringify(this.lines)} ${this.stderr}` });
  }

  /** Kills it without a DISCONNECT (the broker then publishes its will). */
  async kill(): Promise<void> {
    this.proc.kill('SIGKILL');
    await this.ended;
  }
}
