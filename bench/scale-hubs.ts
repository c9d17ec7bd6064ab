// The hub level of `npm run bench -- scale` (issue #16 section 4): one hub on SQLite, then one, two and three
// hubs on one PostgreSQL, each scenario on a fresh database with fresh data directories. One shared list of
// devices is split evenly over the hubs, one loader process (ingest-load.ts) per hub. Per scenario: ACK
// latency at a fixed offered rate on the fresh hubs, then readings/s acked at full load over a fixed window,
// the CPU each process used in that window (hubs, PostgreSQL's process tree, loaders), readings committed
// (counted in the database afterwards), bytes per reading on PostgreSQL; and once per run the handover time
// of a device moving from one hub to another.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { newDeviceCredentials } from '../hub/auth/device-tokens.js';
import { HubStore } from '../hub/storage/hub-store.js';
import { PgStore } from '../hub/storage/pg/pg-store.js';
import type { PgCluster } from '../hub/storage/pg/throwaway-cluster.js';
import type { NewDevice } from '../hub/storage/types.js';
import { decode, encode, SUBPROTOCOL } from '../protocol/index.js';
import { BENCH_DIR, cpuSecondsOf, percentile, spawnNode, startHubProcess, treeCpuSecondsOf, type Child } from './proc.js';

export interface HubScaleOptions {
  /** Devices across all hubs of a scenario. */
  devices: number;
  /** Full-load measuring window, seconds, after `warmup` seconds of load. */
  seconds: number;
  warmup: number;
  /** Latency phase: readings/s offered across all hubs, and its length in seconds (after `warmup`). */
  rate: number;
  latencySeconds: number;
  /**
   * Equal work: readings/s offered across all hubs (8 per frame) for `seconds` after `warmup`, the same in
   * every scenario and below each one's full load, so that readings per hub CPU-second compare hubs doing the
   * same work rather than hubs crowded out by PostgreSQL and each other on the shared cores. 0: not run.
   */
  equalRate: number;
  /** PostgreSQL hub counts to run after the SQLite hub. */
  pgHubs: number[];
  /**
   * Times every scenario runs, in turn (SQLite, 1, 2, 3 hubs, then again): each row is a scenario's median
   * round by readings/s, so that one noisy moment of the shared cores does not decide a target.
   */
  rounds: number;
}

export interface HubScaleRow {
  scenario: string;
  hubs: number;
  store: 'sqlite' | 'postgres';
  /** Full load: readings/s acked, summed over the loaders. */
  ackedPerSec: number;
  /** Readings in the database after the scenario, and readings the loaders saw acked (both phases). */
  committed: number;
  acked: number;
  /** ACK latency at `rate` readings/s offered. */
  p50Ms: number;
  p99Ms: number;
  /** CPU seconds in the full-load window: each hub, PostgreSQL's tree (0 on SQLite), all loaders. */
  hubCpuSec: number[];
  dbCpuSec: number;
  loaderCpuSec: number;
  windowSec: number;
  /** The equal-work window (equalRate offered): readings/s acked and each hub's CPU seconds; undefined when not run. */
  equal: Pick<HubScaleRow, 'ackedPerSec' | 'hubCpuSec' | 'dbCpuSec' | 'windowSec'> | undefined;
  /** PostgreSQL: bytes of the readings partitions with their indexes per reading; 0 on SQLite. */
  bytesPerReading: number;
}

export interface HubScaleResult {
  options: HubScaleOptions;
  /** Each scenario's median round. */
  rows: HubScaleRow[];
  /** Every round's rows, in the order they ran. */
  rounds: HubScaleRow[][];
  /** A device connecting to hub B while hub A holds it: until A closes with 4009, and until B's WELCOME. */
  handover: { closedMs: number; closeCode: number; welcomeMs: number } | undefined;
}

interface Creds {
  record: NewDevice;
  token: string;
}

const HUB_IDS = ['hub-a', 'hub-b', 'hub-c', 'hub-d'];
/** Hub flags for every scenario: no MQTT listeners (no port clashes between hubs), no per-device frame cap. */
const HUB_FLAGS = ['--mqtt-embedded', 'false', '--devices-max-frames-per-second', '100000'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Readings/s acked in [fromMs, toMs] (loader clock), from its per-second lines. */
function rateIn(lines: Record<string, unknown>[], fromMs: number, toMs: number): number {
  const ticks = lines.filter((l) => typeof l.acked === 'number' && Number(l.t) >= fromMs && Number(l.t) <= toMs);
  if (ticks.length < 2) return 0;
  const [a, b] = [ticks[0]!, ticks[ticks.length - 1]!];
  return ((Number(b.acked) - Number(a.acked)) / (Number(b.t) - Number(a.t))) * 1000;
}

const lastAcked = (lines: Record<string, unknown>[]): number => Number(lines.filter((l) => typeof l.acked === 'number').at(-1)?.acked ?? 0);

/** Device i goes to hub i mod hubs; one credentials file per hub, in the format ingest-load.ts reads. */
function writeSlices(dir: string, creds: Creds[], hubs: number): string[] {
  return Array.from({ length: hubs }, (_, h) => {
    const file = join(dir, `fleet-${h}.json`);
    writeFileSync(file, JSON.stringify({ devices: creds.filter((_, i) => i % hubs === h).map((c) => ({ id: c.record.id, token: c.token })) }));
    return file;
  });
}

interface Running {
  hubs: { child: Child; url: string }[];
  dataDirs: string[];
}

async function startHubs(dirOf: (h: number) => string, n: number, dbUrl: string | undefined): Promise<Running> {
  const dataDirs = Array.from({ length: n }, (_, h) => dirOf(h));
  const hubs = await Promise.all(
    dataDirs.map(async (d, h) => {
      const flags = dbUrl === undefined ? HUB_FLAGS : [...HUB_FLAGS, '--db-url', dbUrl, '--hub-id', HUB_IDS[h]!];
      const { child, url } = await startHubProcess(d, flags);
      return { child, url: url.replace('https://', 'wss://') };
    }),
  );
  return { hubs, dataDirs };
}

/** SIGTERM to every hub; their warnings and errors, counted by message, go to stderr. */
async function stopHubs(r: Running): Promise<void> {
  await Promise.all(r.hubs.map(async (h, i) => {
    h.child.proc.kill('SIGTERM');
    await h.child.exited;
    const counts = new Map<string, number>();
    // The message with its error, if any (the first 200 characters): the same failure counts once.
    const key = (l: Record<string, unknown>) => `${String(l.msg)}${l.err ? ` (${String(l.err).slice(0, 200)})` : ''}`;
    for (const l of h.child.lines) if (Number(l.level) >= 40) counts.set(key(l), (counts.get(key(l)) ?? 0) + 1);
    for (const [msg, count] of counts) console.error(`${HUB_IDS[i]}: ${count} x "${msg}"`);
  }));
}

/** One loader per hub, each on its slice, with the same extra flags; resolves once all of them have connected. */
async function startLoaders(r: Running, slices: string[], args: string[]): Promise<Child[]> {
  const loaders = r.hubs.map((h, i) => spawnNode(join(BENCH_DIR, 'ingest-load.js'), ['--url', h.url, '--credentials', slices[i]!, ...args]));
  await Promise.all(loaders.map((l) => l.waitFor((line) => typeof line.connectedAll === 'number', 300_000)));
  return loaders;
}

const connectedAt = (l: Child): number => Number(l.lines.find((line) => typeof line.connectedAll === 'number')!.t);

/** One scenario: latency phase, then the full-load window, on hubs already started on a fresh database. */
async function measure(o: HubScaleOptions, r: Running, slices: string[], dbCpu: () => number): Promise<Omit<HubScaleRow, 'scenario' | 'hubs' | 'store' | 'committed' | 'bytesPerReading'>> {
  const n = r.hubs.length;
  // 1. ACK latency at a fixed offered rate, 2 readings per frame, as bench/ingest.ts measures it.
  const lat = await startLoaders(r, slices, ['--seconds', String(o.warmup + o.latencySeconds), '--rate', String(o.rate / n), '--readings', '2']);
  await Promise.all(lat.map((l) => l.exited));
  const samples = lat
    .flatMap((l) => l.lines.filter((line) => Number(line.t) >= connectedAt(l) + o.warmup * 1000).flatMap((line) => (line.lat as number[] | undefined) ?? []))
    .sort((a, b) => a - b);

  // 2. Equal work: the same offered rate in every scenario, CPU over the window.
  const equal = o.equalRate > 0 ? await loadWindow(o, r, slices, dbCpu, ['--rate', String(o.equalRate / n), '--readings', '8']) : undefined;

  // 3. Full load: every device keeps a window of frames in flight; CPU is sampled over the same window.
  const full = await loadWindow(o, r, slices, dbCpu, []);
  return {
    ackedPerSec: full.ackedPerSec,
    acked: [...lat, ...(equal?.loaders ?? []), ...full.loaders].reduce((s, l) => s + lastAcked(l.lines), 0),
    p50Ms: percentile(samples, 50),
    p99Ms: percentile(samples, 99),
    hubCpuSec: full.hubCpuSec,
    dbCpuSec: full.dbCpuSec,
    loaderCpuSec: full.loaderCpuSec,
    windowSec: full.windowSec,
    equal: equal && { ackedPerSec: equal.ackedPerSec, hubCpuSec: equal.hubCpuSec, dbCpuSec: equal.dbCpuSec, windowSec: equal.windowSec },
  };
}

/**
 * One loader per hub with `args` for warmup + seconds, the CPU of every process sampled over the `seconds`
 * after the warm-up. Each loader counts its seconds from its own connect, the CPU window from the slowest's:
 * 5 s to spare, so that none has exited when the window's end samples its CPU (one had: /proc/<pid> was gone,
 * the bench died).
 */
async function loadWindow(o: HubScaleOptions, r: Running, slices: string[], dbCpu: () => number, args: string[]) {
  const loaders = await startLoaders(r, slices, ['--seconds', String(o.warmup + o.seconds + 5), ...args]);
  await sleep(o.warmup * 1000);
  const pids = { hubs: r.hubs.map((h) => h.child.proc.pid!), loaders: loaders.map((l) => l.proc.pid!) };
  const cpu = () => ({ hubs: pids.hubs.map(cpuSecondsOf), db: dbCpu(), loaders: pids.loaders.reduce((s, p) => s + cpuSecondsOf(p), 0) });
  const [c0, t0] = [cpu(), performance.now()];
  await sleep(o.seconds * 1000);
  const [c1, t1] = [cpu(), performance.now()];
  await Promise.all(loaders.map((l) => l.exited));
  return {
    loaders,
    // Each loader's own window: from its warm-up's end, as long as the CPU window (to within its 1 s lines).
    ackedPerSec: loaders.reduce((s, l) => s + rateIn(l.lines, connectedAt(l) + o.warmup * 1000, connectedAt(l) + (o.warmup + o.seconds) * 1000 + 500), 0),
    hubCpuSec: c1.hubs.map((c, i) => c - c0.hubs[i]!),
    dbCpuSec: c1.db - c0.db,
    loaderCpuSec: c1.loaders - c0.loaders,
    windowSec: (t1 - t0) / 1000,
  };
}

/** Opens a device connection and resolves at its WELCOME; `closed` resolves with the close code. */
function connect(url: string, c: Creds): Promise<{ ws: WebSocket; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url}/v1/devices/${c.record.id}`, [SUBPROTOCOL], { headers: { authorization: `Bearer ${c.token}` }, rejectUnauthorized: false });
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    ws.on('open', () => ws.send(encode({ type: 'hello', model: 'bench', firmware: '1', lastAckedSeq: 0, capabilities: [] })));
    ws.on('message', (data: Buffer) => {
      if (decode(new Uint8Array(data)).type === 'welcome') resolve({ ws, closed });
    });
    ws.on('error', reject);
    void closed.then((code) => reject(new Error(`device ${c.record.id}: closed ${code} before WELCOME`)));
  });
}

/** Device `c` held by hub `a` connects to hub `b`: ms until a's connection closes, and until b's WELCOME. */
async function handover(a: string, b: string, c: Creds): Promise<HubScaleResult['handover']> {
  const first = await connect(a, c);
  const t0 = performance.now();
  let closedMs = 0;
  const closeCode = first.closed.then((code) => ((closedMs = performance.now() - t0), code));
  const second = await connect(b, c);
  const welcomeMs = performance.now() - t0;
  const code = await Promise.race([closeCode, sleep(15_000).then(() => -1)]);
  first.ws.terminate();
  second.ws.terminate();
  return { closedMs: code === -1 ? NaN : closedMs, closeCode: code, welcomeMs };
}

/** The median of `xs` by `key` (the lower middle of an even count). */
function medianBy<T>(xs: readonly T[], key: (x: T) => number): T {
  return [...xs].sort((a, b) => key(a) - key(b))[Math.floor((xs.length - 1) / 2)]!;
}

/** Runs every scenario `o.rounds` times; `dirs()` makes a fresh temporary directory, `cluster` is a started throwaway PostgreSQL. */
export async function runHubScale(o: HubScaleOptions, cluster: PgCluster, dirs: () => string): Promise<HubScaleResult> {
  const now = Date.now();
  const creds: Creds[] = Array.from({ length: o.devices }, (_, i) => newDeviceCredentials(`scale-${String(i).padStart(5, '0')}`, `scale ${i}`, 'bench', now));
  const mover = newDeviceCredentials('scale-handover', 'handover', 'bench', now);
  const rounds: HubScaleRow[][] = [];
  let moved: HubScaleResult['handover'];
  for (let i = 0; i < Math.max(1, o.rounds); i++) {
    const round = await runRound(o, cluster, dirs, creds, mover, i, moved === undefined);
    rounds.push(round.rows);
    moved ??= round.moved;
  }
  const rows = rounds[0]!.map((_, k) => medianBy(rounds.map((r) => r[k]!), (x) => x.ackedPerSec));
  return { options: o, rows, rounds, handover: moved };
}

/** One round: every scenario once, each on a fresh database (named by round) and fresh data directories. */
async function runRound(
  o: HubScaleOptions, cluster: PgCluster, dirs: () => string, creds: Creds[], mover: Creds, round: number, measureHandover: boolean,
): Promise<{ rows: HubScaleRow[]; moved: HubScaleResult['handover'] }> {
  const rows: HubScaleRow[] = [];
  let moved: HubScaleResult['handover'];

  // One hub on SQLite: the devices go straight into its database before it starts.
  {
    const dir = dirs();
    const store = new HubStore({ path: join(dir, 'hearth.db') });
    store.open();
    for (const c of creds) store.addDevice(c.record);
    store.close();
    const r = await startHubs(() => dir, 1, undefined);
    const m = await measure(o, r, writeSlices(dir, creds, 1), () => 0);
    await stopHubs(r);
    const after = new HubStore({ path: join(dir, 'hearth.db') });
    after.open();
    const committed = after.stats().storedReadings;
    after.close();
    rows.push({ scenario: '1 hub, SQLite', hubs: 1, store: 'sqlite', committed, bytesPerReading: 0, ...m });
  }

  const pid = cluster.postmasterPid();
  for (const n of o.pgHubs) {
    const url = await cluster.createDatabase(`scale${n}r${round}`);
    const setup = new PgStore({ url, poolSize: 1 });
    await setup.open(); // migrates the fresh database before the hubs race to
    for (const c of [...creds, mover]) await setup.addDevice(c.record);
    const dir = dirs();
    const r = await startHubs((h) => join(dir, HUB_IDS[h]!), n, url);
    const m = await measure(o, r, writeSlices(dir, creds, n), () => treeCpuSecondsOf(pid));
    if (n >= 2 && measureHandover && moved === undefined) moved = await handover(r.hubs[0]!.url, r.hubs[1]!.url, mover);
    await stopHubs(r);
    const size = await setup.readingsSize();
    await setup.close();
    rows.push({ scenario: `${n} hub${n > 1 ? 's' : ''}, one PostgreSQL`, hubs: n, store: 'postgres', committed: size.readings, bytesPerReading: size.bytes / Math.max(1, size.readings), ...m });
  }
  return { rows, moved };
}

/** A measured window's CPU: its readings/s and the CPU seconds of its hubs (and database) over windowSec. */
type CpuWindow = { ackedPerSec: number; hubCpuSec: number[]; dbCpuSec: number; windowSec: number };
const hubCores = (w: CpuWindow) => w.hubCpuSec.reduce((s, c) => s + c, 0) / w.windowSec;
/** Readings per hub CPU-second, and per CPU-second of hubs and database. */
const perHubOf = (w: CpuWindow) => w.ackedPerSec / hubCores(w);
const perAllOf = (w: CpuWindow) => w.ackedPerSec / (hubCores(w) + w.dbCpuSec / w.windowSec);

/** The hub-level result as a markdown table, with its targets. */
export function formatHubScale(r: HubScaleResult): string {
  const n = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-');
  const base = r.rows.find((x) => x.store === 'sqlite')?.ackedPerSec ?? NaN;
  // Every round: each PostgreSQL scenario against the SQLite hub of the same round, and its per hub CPU-second.
  const roundLines = r.rounds.map((round, i) => {
    const lite = round.find((x) => x.store === 'sqlite')?.ackedPerSec ?? NaN;
    const cells = round.map((x) => (x.store === 'sqlite' ? `SQLite ${n(x.ackedPerSec)}/s` : `${x.hubs} PG: ${((100 * x.ackedPerSec) / lite).toFixed(0)} %, ${n(perHubOf(x))}/hub CPU-s`));
    return `- round ${i + 1}: ${cells.join('; ')}`;
  });
  const lines = r.rows.map(
    (x) =>
      `| ${x.scenario} | ${n(x.ackedPerSec)} | ${((100 * x.ackedPerSec) / base).toFixed(0)} % | ${n(x.committed)} / ${n(x.acked)} | ${x.p50Ms.toFixed(1)} / ${x.p99Ms.toFixed(1)} ms | ${x.hubCpuSec.map((c) => c.toFixed(1)).join(' + ')} s | ${x.store === 'postgres' ? `${x.dbCpuSec.toFixed(1)} s` : '-'} | ${x.loaderCpuSec.toFixed(1)} s | ${n(perHubOf(x))} | ${n(perAllOf(x))} | ${x.store === 'postgres' ? x.bytesPerReading.toFixed(1) : '-'} |`,
  );
  const pg1 = r.rows.find((x) => x.store === 'postgres' && x.hubs === 1);
  // Readings per hub CPU-second: each PostgreSQL scenario's median over the rounds (a measure of its own,
  // not the one of the median-throughput round in the table).
  const pgCols = r.rows.flatMap((x, k) => (x.store === 'postgres' ? [k] : []));
  const perHub = pgCols.map((k) => medianBy(r.rounds.map((round) => perHubOf(round[k]!)), (x) => x));
  const spread = pgCols.map((k) => r.rounds.map((round) => perHubOf(round[k]!))).map((xs) => `${n(Math.min(...xs))}-${n(Math.max(...xs))}`);
  const notFalling = perHub.every((x, i) => i === 0 || x >= perHub[i - 1]!);
  // Equal work: the same offered rate in every scenario; per hub CPU-second median over the rounds.
  const eqPerHub = (x: HubScaleRow) => (x.equal ? perHubOf(x.equal) : NaN);
  const eqRows = r.rows.map((_, k) => {
    const xs = r.rounds.map((round) => round[k]!);
    const per = xs.map(eqPerHub);
    const mid = medianBy(xs, eqPerHub);
    return { x: mid, per: eqPerHub(mid), spread: `${n(Math.min(...per))}-${n(Math.max(...per))}` };
  });
  const eqPg = eqRows.filter((e) => e.x.store === 'postgres').map((e) => e.per);
  const eqNotFalling = eqPg.every((x, i) => i === 0 || x >= eqPg[i - 1]!);
  const eqAll = (x: HubScaleRow) => (x.equal ? perAllOf(x.equal) : NaN);
  const equal = r.options.equalRate > 0
    ? [
        '',
        `Equal work: ${n(r.options.equalRate)} readings/s offered in total (8 per frame, rate mode) in every scenario, below each one's full load, measured for ${r.options.seconds} s after ${r.options.warmup} s, between the latency phase and the full load. Each row is the scenario's median round by readings per hub CPU-second (spread over the rounds beside it):`,
        '',
        '| scenario | readings/s acked | CPU: each hub | CPU: PostgreSQL | readings per hub CPU-second | its rounds | readings per CPU-second (hubs + DB) |',
        '| --- | --- | --- | --- | --- | --- | --- |',
        ...eqRows.map(({ x, per, spread: sp }) => `| ${x.scenario} | ${n(x.equal?.ackedPerSec ?? NaN)} | ${x.equal ? `${x.equal.hubCpuSec.map((c) => c.toFixed(2)).join(' + ')} s` : '-'} | ${x.store === 'postgres' && x.equal ? `${x.equal.dbCpuSec.toFixed(2)} s` : '-'} | ${n(per)} | ${sp} | ${n(eqAll(x))} |`),
      ]
    : [];
  const h = r.handover;
  const o = r.options;
  return [
    `${n(o.devices)} devices split evenly over the hubs, one loader process per hub over wss (8 readings per frame, a window of 8 frames in flight per device); full load measured for ${o.seconds} s after ${o.warmup} s, CPU over the same window (${o.seconds} s wall on this machine's cores: hubs, PostgreSQL and loaders compete for them). ACK latency first, on the fresh hubs: ${n(o.rate)} readings/s offered in total (2 per frame), ${o.latencySeconds} s after ${o.warmup} s. Fresh database and data directories per scenario; PostgreSQL is the throwaway local cluster (fsync off, as the SQLite hub's synchronous NORMAL survives a process crash, not power loss), over its Unix socket.`,
    '',
    '| scenario | readings/s acked | of SQLite | committed (in the database) / acked | ACK p50 / p99 | CPU: each hub | CPU: PostgreSQL | CPU: loaders | readings per hub CPU-second | readings per CPU-second (hubs + DB) | bytes per reading (PG) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...lines,
    '',
    `Each row is the scenario's median of ${r.rounds.length} round${r.rounds.length === 1 ? '' : 's'} by readings/s (the scenarios ran in turn, round after round; "of SQLite" is against the median SQLite round). Every round:`,
    '',
    ...roundLines,
    ...equal,
    '',
    `Targets: one hub on PostgreSQL >= 50 % of one hub on SQLite: ${pg1 ? `${((100 * pg1.ackedPerSec) / base).toFixed(0)} %, ${pg1.ackedPerSec >= base / 2 ? 'met' : 'not met'}` : 'not run'}; readings per hub CPU-second (median of the rounds) not falling as hubs are added: at full load ${perHub.map(n).join(' -> ')}, ${notFalling ? 'met' : 'not met'} (rounds: ${spread.join(' / ')})${equal.length > 0 ? `; at equal work ${eqPg.map(n).join(' -> ')}, ${eqNotFalling ? 'met' : 'not met'}` : ''}.`,
    h
      ? `Handover (idle hubs after the two-hub scenario, one measurement): a device held by hub-a connects to hub-b; hub-b's WELCOME after ${h.welcomeMs.toFixed(0)} ms, hub-a's connection closed with ${h.closeCode} after ${Number.isFinite(h.closedMs) ? `${h.closedMs.toFixed(0)} ms` : 'no close within 15 s'}.`
      : 'Handover: not measured (no scenario with two hubs).',
  ].join('\n');
}
