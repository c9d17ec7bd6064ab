// npm run bench -- reconnect: N provisioned devices connected to a hub process (embedded MQTT broker on, as
// deployed), the hub killed (SIGKILL) and started again on the same port and data; measures the time from
// the hub's readiness (/readyz on its plain-HTTP health port, http.healthPort, which no device handshake
// queues in front of) until every device got its WELCOME again, and the restart itself (SIGKILL -> ready). Loaders run in their own processes, at most
// 5,000 devices each (a process may hold at most 20,000 open files). Target (issue §3): 1,000 within 5 s,
// 10,000 within 30 s.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { BENCH_DIR, HUB_CLI, provisionFleet, spawnNode, type Child } from './proc.js';

const PER_LOADER = 5000;

export interface ReconnectRow {
  devices: number;
  loaders: number;
  /** /readyz answering after the restart -> the last device's WELCOME, seconds. */
  seconds: number;
  /** SIGKILL -> /readyz answering 200 on the health port, seconds (start-up with N devices provisioned). */
  restartSeconds: number;
  target: number;
}

/** HEARTH_BENCH_HUB_NODE_ARGS (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`): node flags of the restarted hub only. */
const HUB_NODE_ARGS = process.env['HEARTH_BENCH_HUB_NODE_ARGS']?.split(' ').filter(Boolean) ?? [];

function startHub(dataDir: string, port: number, healthPort: number, nodeArgs: string[] = []): Child {
  // NODE_OPTIONS refuses --cpu-prof: flags go before the script instead.
  const [script, ...pre] = [...nodeArgs, HUB_CLI];
  return spawnNode(script!, [...pre,
    'start', '--data-dir', dataDir, '--host', '127.0.0.1', '--port', String(port), '--http-health-port', String(healthPort), '--log-level', 'warn',
    '--mqtt-port', '0', '--mqtt-tls-port', 'off', '--devices-max-frames-per-second', '1000',
    // Every loader connects from 127.0.0.1: the per-address cap (http.maxConnectionsPerAddress) would refuse them.
    '--http-cap-loopback', 'false',
  ]);
}

/** A free loopback port (bound, then released): the restarted hub must come back on the same one. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Polls GET /readyz on the plain-HTTP health port every 10 ms; resolves with the time (epoch ms) of the first 200. */
async function readyzUp(port: number, timeoutMs = 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/readyz', timeout: 1000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
    });
    if (ok) return Date.now();
    if (Date.now() > deadline) throw new Error(`/readyz did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** GET /metrics of the hub over HTTPS ('' when it does not answer in 10 s). */
function metricsText(port: number): Promise<string> {
  return new Promise((resolve) => {
    const req = https.get({ host: '127.0.0.1', port, path: '/metrics', rejectUnauthorized: false, timeout: 10_000 }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve(text));
    });
    req.on('error', () => resolve(''));
    req.on('timeout', () => req.destroy());
  });
}

/** Open-file limit of this process (loaders and the hub inherit it), from /proc (Linux). */
function openFileLimit(): number {
  const m = /Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'));
  return m ? Number(m[1]) : Infinity;
}

async function runOne(n: number, target: number): Promise<ReconnectRow> {
  if (openFileLimit() < n + 1000) throw new Error(`open-file limit ${openFileLimit()} is too low for ${n} devices: run \`ulimit -n ${n + 5000}\` first`);
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-reconnect-'));
  const children: Child[] = [];
  let trace: NodeJS.Timeout | undefined;
  try {
    const credentials = provisionFleet(dir, n, (i) => ({ id: `r${i}` }));
    const [port, healthPort] = [await freePort(), await freePort()];
    let hub = startHub(dir, port, healthPort);
    children.push(hub);
    await readyzUp(healthPort);
    const url = `wss://127.0.0.1:${port}`;
    const loaders: Child[] = [];
    for (let from = 0; from < n; from += PER_LOADER) {
      const loader = spawnNode(join(BENCH_DIR, 'reconnect-load.js'), ['--url', url, '--credentials', credentials, '--from', String(from), '--to', String(Math.min(n, from + PER_LOADER))]);
      loaders.push(loader);
      children.push(loader);
    }
    // HEARTH_BENCH_TRACE=1: each loader's latest progress line on stderr every second.
    trace = process.env['HEARTH_BENCH_TRACE'] ? setInterval(() => loaders.forEach((l, k) => process.stderr.write(`loader ${k}: ${JSON.stringify(l.lines.at(-1))}\n`)), 1000) : undefined;
    await Promise.all(loaders.map((l) => l.waitFor((line) => line['round'] === 1, 180_000)));
    hub.proc.kill('SIGKILL');
    await hub.exited;
    const killedAt = Date.now();
    hub = startHub(dir, port, healthPort, HUB_NODE_ARGS);
    children.push(hub);
    const up = await readyzUp(healthPort);
    const done = await Promise.all(loaders.map((l) => l.waitFor((line) => line['round'] === 2, 180_000)));
    const last = Math.max(...done.map((line) => Number(line['allWelcomedAt'])));
    // Where the attempts went (close codes, HTTP statuses, socket errors), summed over the loaders.
    const outcomes: Record<string, number> = {};
    for (const l of loaders) {
      const line = [...l.lines].reverse().find((x) => x['outcomes']);
      for (const [k, v] of Object.entries((line?.['outcomes'] ?? {}) as Record<string, number>)) outcomes[k] = (outcomes[k] ?? 0) + v;
    }
    // The restarted hub's own refusals (why attempts failed on its side), from /metrics over loopback.
    const refused = (await metricsText(port)).split('\n').filter((l) => /^hearth_(connections|upgrades)_refused_total\{/.test(l)).join(', ');
    process.stderr.write(`reconnect ${n}: hub refused ${refused || 'none'}\n`);
    process.stderr.write(`reconnect ${n}: down ${(up - killedAt) / 1000} s, /readyz -> all WELCOMEd ${(last - up) / 1000} s, outcomes ${JSON.stringify(outcomes)}\n`);
    // A profiled hub must exit on its own to write its profile.
    if (HUB_NODE_ARGS.length > 0) {
      hub.proc.kill('SIGTERM');
      await hub.exited;
    }
    return { devices: n, loaders: loaders.length, seconds: (last - up) / 1000, restartSeconds: (up - killedAt) / 1000, target };
  } finally {
    clearInterval(trace);
    // A profiled hub writes its profile only when it exits on its own, also after a failed run.
    const last = children.at(0) === undefined ? undefined : children.filter((c) => c.proc.spawnargs.includes('start')).at(-1);
    if (HUB_NODE_ARGS.length > 0 && last && last.proc.exitCode === null) {
      last.proc.kill('SIGTERM');
      await Promise.race([last.exited, new Promise((r) => setTimeout(r, 20_000))]);
    }
    for (const c of children) c.proc.kill('SIGKILL');
    await Promise.all(children.map((c) => c.exited));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs N = 1,000 and 10,000 (or `sizes`). */
export async function runReconnectBench(sizes: [number, number][] = [[1000, 5], [10_000, 30]]): Promise<ReconnectRow[]> {
  const rows: ReconnectRow[] = [];
  for (const [n, target] of sizes) rows.push(await runOne(n, target));
  return rows;
}

export function formatReconnect(rows: ReconnectRow[]): string {
  const lines = ['| devices | loader processes | restart (SIGKILL -> ready) | ready -> all WELCOMEd again | target | met |', '| ---: | ---: | ---: | ---: | ---: | :---: |'];
  for (const r of rows) lines.push(`| ${r.devices} | ${r.loaders} | ${r.restartSeconds.toFixed(2)} s | ${r.seconds.toFixed(2)} s | ${r.target} s | ${r.seconds <= r.target ? 'yes' : 'no'} |`);
  lines.push('', 'Ready: the first 200 of /readyz on the plain-HTTP health port (http.healthPort), which the hub opens once every part serves. Hub killed with SIGKILL and restarted on the same port and data, embedded MQTT broker on; devices reconnect as FP-10.6 says (exponential backoff, full jitter, 1 s base, from the moment the hub died) and resume their TLS sessions.');
  return lines.join('\n');
}
