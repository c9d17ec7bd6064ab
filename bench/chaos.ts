// npm run chaos: SIGKILLs the hub process and the hearth-sim process at seeded random moments under load,
// restarts each at once, and checks every device's record (hearth-sim --record) against the hub's database:
// 0 lost, 0 duplicated, no seq reused, each fault recovered within its budget. Prints one table row per fault.
// The CI version is test/chaos/chaos.test.ts (runChaos with 2 kills of each).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Rng } from '../device-sim/rng.js';
import { MODELS } from '../device-sim/models/index.js';
import { HubStore } from '../hub/storage/hub-store.js';
import { addCounts, auditDevice, zeroCounts, type ReadingCounts } from './chaos-audit.js';
import { provisionFleet } from './proc.js';

// Compiled CLIs: next to this file in dist/, or under dist/ when a test runs this file from source.
const DIST = new URL(import.meta.url.endsWith('.ts') ? '../dist/' : '../', import.meta.url);
/** The compiled hearth-sim and hub CLIs. */
export const SIM_CLI = fileURLToPath(new URL('device-sim/cli.js', DIST));
const HUB_CLI = fileURLToPath(new URL('hub/cli.js', DIST));

/** 'sim SIGKILL mid-replay': the hub is killed and restarted, and the simulator is killed as soon as the hub
 *  acknowledges the first replayed BATCH (the moment a debounced state save used to lose). */
export type FaultKind = 'hub SIGKILL' | 'sim SIGKILL' | 'sim SIGKILL mid-replay';

export interface ChaosOptions {
  seed: string;
  hubKills: number;
  simKills: number;
  /** Kills of the simulator right after a hub restart, while devices replay their buffers (default 0). */
  replayKills?: number;
  /** Devices per model (every model of device-sim/models), default 1. */
  perModel?: number;
  /** Reading ticks per second per device (hearth-sim --rate). */
  rate: number;
  /** Load between recovery and the next fault, ms: uniform in [min, max) from the seeded schedule. */
  loadMs: [number, number];
  /** A fault not recovered within this is a failure (the run goes on to the next). */
  recoveryBudgetMs: Record<FaultKind, number>;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export interface FaultRow extends ReadingCounts {
  fault: FaultKind | 'none (load before the first fault)';
  /** When it was injected, ms after the run started. */
  atMs: number;
  /** From the (last) kill until every device had a reading generated after it acknowledged (and all before it); null: not within budget. */
  recoveredMs: number | null;
  budgetMs: number | null;
}

export interface ChaosReport {
  rows: FaultRow[];
  totals: ReadingCounts;
  seqReuses: number;
  devices: number;
  elapsedMs: number;
  /** The last hearth-sim's exit code after its graceful stop (0: nothing lost from its point of view). */
  simExitCode: number | null;
}

/** Runs the seeded fault schedule against a real hub and a real hearth-sim; resolves with the audit. */
export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const log = o.log ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), 'hearth-chaos-'));
  const dataDir = join(dir, 'hub');
  const stateDir = join(dir, 'sim');
  const rng = new Rng(`chaos/${o.seed}`);
  const models = Object.keys(MODELS);
  const perModel = o.perModel ?? 1;
  const fleet = models.flatMap((model) => Array.from({ length: perModel }, (_, i) => ({ id: `chaos-${model}-${i + 1}`, model })));
  const credentials = provisionFleet(dataDir, fleet.length, (i) => fleet[i]!);
  const port = await freePort();
  const startedAt = Date.now();
  let hub = await startHub(dataDir, port);
  const simArgs = ['--hub', `wss://127.0.0.1:${port}`, '--ca', join(dataDir, 'tls', 'hub-cert.pem'), '--credentials', credentials, '--state-dir', stateDir, '--record', '--rate', String(o.rate), '--seed', o.seed, '--json'];
  let sim = startSim(simArgs);
  const tails = fleet.map((d) => new RecordTail(join(stateDir, `device-${d.id}.record.jsonl`)));
  const kinds: FaultKind[] = [...Array<FaultKind>(o.hubKills).fill('hub SIGKILL'), ...Array<FaultKind>(o.simKills).fill('sim SIGKILL'), ...Array<FaultKind>(o.replayKills ?? 0).fill('sim SIGKILL mid-replay')];
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
  }
  const rows: FaultRow[] = [{ fault: 'none (load before the first fault)', atMs: 0, recoveredMs: null, budgetMs: null, ...zeroCounts() }];
  const bounds: number[] = [];
  let simExitCode: number | null = null;
  try {
    // Everyone connected and acknowledged once before the first fault.
    await until(() => tails.every((t) => t.poll().acked > 0), 30_000);
    for (const [n, kind] of kinds.entries()) {
      await delay(rng.range(o.loadMs[0], o.loadMs[1]));
      let framed = tails.map((t) => t.poll().framed);
      let killedAt = Date.now();
      bounds.push(killedAt);
      log(`fault ${n + 1}/${kinds.length}: ${kind} at ${((killedAt - startedAt) / 1000).toFixed(1)} s`);
      if (kind === 'hub SIGKILL') {
        await hub.kill('SIGKILL');
        hub = await startHub(dataDir, port);
      } else if (kind === 'sim SIGKILL mid-replay') {
        await hub.kill('SIGKILL');
        await delay(rng.range(1000, 3000)); // readings pile up in the offline BATCHes
        hub = await startHub(dataDir, port);
        const before = framed;
        await until(() => tails.some((t, i) => t.poll().acked > before[i]!), o.recoveryBudgetMs['hub SIGKILL']);
        framed = tails.map((t) => t.poll().framed);
        killedAt = Date.now();
        await sim.kill('SIGKILL');
        sim = startSim(simArgs);
      } else {
        await sim.kill('SIGKILL');
        sim = startSim(simArgs);
      }
      const budget = o.recoveryBudgetMs[kind];
      const recovered = await until(() => tails.every((t, i) => t.poll().acked > framed[i]!), budget);
      const recoveredMs = recovered ? Date.now() - killedAt : null;
      log(`  recovered ${recoveredMs === null ? `NOT within ${budget} ms` : `in ${recoveredMs} ms`}`);
      rows.push({ fault: kind, atMs: bounds[bounds.length - 1]! - startedAt, recoveredMs, budgetMs: budget, ...zeroCounts() });
      if (!recovered) await until(() => tails.every((t, i) => t.poll().acked > framed[i]!), 60_000);
    }
    await delay(o.loadMs[0]);
  } finally {
    simExitCode = await sim.stop();
    await hub.stop();
  }
  const store = new HubStore({ path: join(dataDir, 'hearth.db') });
  store.open();
  let seqReuses = 0;
  try {
    for (const d of fleet) {
      const audit = auditDevice(join(stateDir, `device-${d.id}.record.jsonl`), d.id, d.model, store, bounds);
      seqReuses += audit.seqReuses;
      for (const [i, w] of audit.windows.entries()) addCounts(rows[i]!, w);
    }
  } finally {
    store.close();
  }
  const totals = zeroCounts();
  for (const r of rows) addCounts(totals, r);
  rmSync(dir, { recursive: true, force: true });
  return { rows, totals, seqReuses, devices: fleet.length, elapsedMs: Date.now() - startedAt, simExitCode };
}

/** The chaos table (markdown). */
export function formatChaos(r: ChaosReport): string {
  const head = '| # | fault injected | at | recovered in | readings generated | dropped | sent | acked | stored | missing | duplicated |';
  const rule = '|---|---|---|---|---|---|---|---|---|---|---|';
  const cells = (c: ReadingCounts): string => `${c.generated} | ${c.dropped} | ${c.sent} | ${c.acked} | ${c.stored} | ${c.missing} | ${c.duplicated}`;
  const rows = r.rows.map((row, i) => {
    const recovered = row.budgetMs === null ? '-' : row.recoveredMs === null ? `NOT within ${row.budgetMs / 1000} s` : `${(row.recoveredMs / 1000).toFixed(1)} s (budget ${row.budgetMs / 1000} s)`;
    return `| ${i} | ${row.fault} | ${(row.atMs / 1000).toFixed(1)} s | ${recovered} | ${cells(row)} |`;
  });
  const verdict = r.totals.missing === 0 && r.totals.duplicated === 0 && r.seqReuses === 0 && r.rows.every((row) => row.budgetMs === null || row.recoveredMs !== null);
  return [
    head,
    rule,
    ...rows,
    `| | **total** | ${(r.elapsedMs / 1000).toFixed(0)} s | | ${cells(r.totals)} |`,
    '',
    `${verdict ? 'PASS' : 'FAIL'}: ${r.devices} devices, ${r.seqReuses} seqs reused with other content, last hearth-sim exit code ${r.simExitCode}. A row counts the readings generated from its fault to the next.`,
  ].join('\n');
}

interface Proc {
  kill(signal: NodeJS.Signals): Promise<void>;
  /** SIGTERM, then the exit code (a graceful stop). */
  stop(): Promise<number | null>;
}

function track(proc: ChildProcess, name: string): Proc & { exited: Promise<number | null>; stderr: () => string } {
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return {
    exited,
    stderr: () => stderr,
    async kill(signal) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const code = await exited;
      if (code !== 0 && stderr !== '') process.stderr.write(`${name}: ${stderr}\n`);
      return code;
    },
  };
}

/** `hearth start` on 127.0.0.1:`port` with a 100 ms group commit, so a kill lands on uncommitted frames. */
async function startHub(dataDir: string, port: number): Promise<Proc> {
  const proc = spawn(process.execPath, [HUB_CLI, 'start', '--data-dir', dataDir, '--host', '127.0.0.1', '--port', String(port), '--mqtt-embedded', 'false', '--log-level', 'info', '--ingest-commit-interval-ms', '100'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const p = track(proc, 'hub');
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      if (line.includes('"hub listening"')) resolve();
    });
    void p.exited.then((code) => reject(new Error(`hub exited (${code}) before listening: ${p.stderr()}`)));
  });
  return p;
}

function startSim(args: string[]): Proc {
  const proc = spawn(process.execPath, [SIM_CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  return track(proc, 'hearth-sim');
}

/** Follows one device's record file as hearth-sim appends to it: highest seq framed and acknowledged. */
class RecordTail {
  framed = 0;
  acked = 0;
  readonly #file: string;
  #offset = 0;
  #partial = '';

  constructor(file: string) {
    this.#file = file;
  }

  poll(): this {
    if (!existsSync(this.#file)) return this;
    const size = statSync(this.#file).size;
    if (size <= this.#offset) return this;
    const buf = Buffer.alloc(size - this.#offset);
    const fd = openSync(this.#file, 'r');
    try {
      readSync(fd, buf, 0, buf.length, this.#offset);
    } finally {
      closeSync(fd);
    }
    this.#offset = size;
    const text = this.#partial + buf.toString('utf8');
    const end = text.lastIndexOf('\n');
    this.#partial = text.slice(end + 1);
    for (const line of text.slice(0, end + 1).split('\n')) {
      if (line === '') continue;
      let rec: { k: string; seq?: number; nextSeq?: number };
      try {
        rec = JSON.parse(line) as typeof rec;
      } catch {
        continue; // a line torn by a kill, cut by the next run
      }
      if (rec.k === 'frame') this.framed = Math.max(this.framed, rec.seq!);
      else if (rec.k === 'ack') this.acked = Math.max(this.acked, rec.seq!);
      else if (rec.k === 'welcome' || rec.k === 'renumber') this.acked = Math.max(this.acked, rec.nextSeq! - 1);
    }
    return this;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `cond` every 100 ms; true once it holds, false after `timeoutMs`. */
async function until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (cond()) return true;
    if (Date.now() >= deadline) return false;
    await delay(100);
  }
}

async function main(): Promise<void> {
  const arg = (name: string, fallback: string): string => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1]! : fallback;
  };
  const kills = Number(arg('kills', '10'));
  const report = await runChaos({
    seed: arg('seed', 'hearth-chaos'),
    hubKills: kills,
    simKills: kills,
    replayKills: Number(arg('replay-kills', '3')),
    perModel: Number(arg('per-model', '2')),
    rate: Number(arg('rate', '10')),
    loadMs: [5000, 10_000],
    recoveryBudgetMs: { 'hub SIGKILL': 30_000, 'sim SIGKILL': 15_000, 'sim SIGKILL mid-replay': 15_000 },
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const table = formatChaos(report);
  process.stdout.write(`${table}\n`);
  process.exitCode = table.includes('\nPASS:') ? 0 : 1;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) void main();
