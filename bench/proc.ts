import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { newDeviceCredentials } from '../hub/auth/device-tokens.js';
import { HubStore } from '../hub/storage/hub-store.js';

/** Directory of the compiled bench scripts (dist/bench). */
export const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
/** The compiled hub CLI. */
export const HUB_CLI = fileURLToPath(new URL('../hub/cli.js', import.meta.url));

export interface Child {
  proc: ChildProcess;
  /** Every JSON line the child printed, in order. */
  lines: Record<string, unknown>[];
  /** Resolves with the first JSON line matching `pred`. */
  waitFor(pred: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
}

/** Spawns `node script args`, collecting its stdout JSON lines (each also given to `onLine`); stderr goes to ours. */
export function spawnNode(script: string, args: string[], env: NodeJS.ProcessEnv = process.env, onLine?: (line: Record<string, unknown>) => void): Child {
  const proc = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env });
  const lines: Record<string, unknown>[] = [];
  const waiters: { pred: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  createInterface({ input: proc.stdout! }).on('line', (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    lines.push(line);
    onLine?.(line);
    for (const w of [...waiters]) {
      if (w.pred(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return {
    proc,
    lines,
    exited,
    waitFor(pred, timeoutMs = 60_000) {
      const found = lines.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`child ${script}: no matching line within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({ pred, resolve: (l) => { clearTimeout(timer); resolve(l); } });
        void exited.then((code) => reject(new Error(`child ${script} exited (${code}) before the expected line`)));
      });
    },
  };
}

/** Resident set size of a process, from /proc (Linux), in bytes. */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
  return Number(kb ?? 0) * 1024;
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat. */
export function cpuSecondsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime in clock ticks
}

/**
 * CPU seconds (user + system) of `pid`, of its live children and of the children it has reaped, from
 * /proc/<pid>/stat: a PostgreSQL server's, whose backends and autovacuum workers come and go.
 */
export function treeCpuSecondsOf(pid: number): number {
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from the 3rd (state) on
      const ppid = Number(fields[1]);
      // utime, stime; for the root also cutime, cstime (its reaped children).
      if (Number(entry) === pid) ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
      else if (ppid === pid) ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // The process ended between readdir and read.
    }
  }
  return ticks / CLK_TCK;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** One device to provision for a benchmark; `model` is written to the credentials file when given. */
export interface FleetEntry {
  id: string;
  name?: string;
  model?: string;
}

/**
 * Provisions `count` devices straight into `<dataDir>/hearth.db` (before the hub starts) and writes their
 * tokens to `<dataDir>/fleet.json` in the format `hearth-sim --credentials` reads; returns that path.
 */
export function provisionFleet(dataDir: string, count: number, entry: (i: number) => FleetEntry): string {
  const store = new HubStore({ path: join(dataDir, 'hearth.db') });
  store.open();
  const devices: { id: string; token: string; model?: string }[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const e = entry(i);
      const { record, token } = newDeviceCredentials(e.id, e.name ?? e.id, e.model ?? 'bench', Date.now());
      store.addDevice(record);
      devices.push(e.model === undefined ? { id: e.id, token } : { id: e.id, token, model: e.model });
    }
  } finally {
    store.close();
  }
  const file = join(dataDir, 'fleet.json');
  writeFileSync(file, JSON.stringify({ devices }));
  return file;
}

/**
 * `node <these> start ...` runs the hub: with BENCH_CPU_PROF=<dir>, node's --cpu-prof writes the hub's CPU
 * profile there when it exits (node's own flags are not allowed in NODE_OPTIONS, so they go first).
 */
export function hubScript(): string[] {
  const prof = process.env['BENCH_CPU_PROF'];
  return prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`, HUB_CLI] : [HUB_CLI];
}

/**
 * Starts `hearth start` in its own process on 127.0.0.1, port 0; resolves once it listens. A bench's whole
 * fleet comes from 127.0.0.1, so loopback is exempt from http.maxConnectionsPerAddress here.
 */
export async function startHubProcess(dataDir: string, flags: string[] = []): Promise<{ child: Child; url: string; port: number }> {
  const [script, ...pre] = hubScript();
  // BENCH_HUB_FLAGS: more hub flags for one run (`--mqtt-embedded false`, say), after the bench's own.
  const extra = (process.env['BENCH_HUB_FLAGS'] ?? '').split(/\s+/).filter((f) => f !== '');
  const child = spawnNode(script!, [...pre, 'start', '--data-dir', dataDir, '--host', '127.0.0.1', '--port', '0', '--log-level', 'info', '--http-cap-loopback', 'false', ...flags, ...extra]);
  const url = String((await child.waitFor((l) => l.msg === 'hub listening')).url);
  return { child, url, port: Number(new URL(url).port) };
}
