// npm run bench -- [codec|storage|ingest|mqtt|mqtt-subscribe|dashboard|compaction|sim|reconnect|ota|scale|peers|diy|devices19k|devices100k|all]: runs benchmarks and appends each
// result, with the machine and the command, to BENCHMARKS.md.
// devices100k: 100,000 wss devices across 6 hubs on one PostgreSQL and one Mosquitto (issue #17 §5), by name only.
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';

type Bench = () => Promise<string>;

const BENCHES: Record<string, Bench> = {
  codec: async () => {
    const m = await import('./codec.js');
    return m.formatCodecBench(await m.runCodecBench());
  },
  storage: async () => {
    const m = await import('./storage.js');
    // The issue's disk figure is for 10 million readings; `--readings N` changes it.
    const i = process.argv.indexOf('--readings');
    const readings = i > 0 ? Number(process.argv[i + 1]) : 10_000_000;
    return m.formatStorageBench(await m.runStorageBench({ readings }));
  },
  mqtt: async () => {
    const e2e = await import('./mqtt-e2e.js');
    const base = await import('./mqtt.js');
    const rows = await e2e.runMqttE2eBench();
    const baseline = await base.runMqttBench();
    return `${e2e.formatMqttE2e(rows)}\n\nBaselines in the same run (bench/mqtt.ts: mqtt.js publishers straight into a bare aedes, and the /mqtt WebSocket stream choice):\n\n${base.formatTable(baseline)}`;
  },
  'mqtt-subscribe': async () => {
    const m = await import('./mqtt-subscribe.js');
    return m.formatSubscribeBench(await m.runSubscribeBench());
  },
  dashboard: async () => {
    const m = await import('./dashboard.js');
    return m.formatDashboardBench(await m.runDashboardBench());
  },
  compaction: async () => {
    const m = await import('./compaction.js');
    return m.formatCompactionBench(await m.runCompactionBench());
  },
  sim: async () => {
    const m = await import('./sim-fleet.js');
    return m.formatSimFleet(await m.runSimFleetBench());
  },
  ingest: async () => {
    const m = await import('./ingest.js');
    return m.formatIngest(await m.runIngestBench());
  },
  reconnect: async () => {
    const m = await import('./reconnect.js');
    return m.formatReconnect(await m.runReconnectBench());
  },
  scale: async () => {
    const m = await import('./scale.js');
    return m.formatScaleBench(await m.runScaleBench(m.scaleArgs(process.argv)));
  },
  devices19k: async () => {
    const m = await import('./devices19k.js');
    return m.formatDevices19k(await m.runDevices19kBench(m.devices19kArgs(process.argv)));
  },
  devices100k: async () => {
    const m = await import('./devices100k.js');
    return m.formatDevices100k(await m.runDevices100kBench(m.devices100kArgs(process.argv)));
  },
  ota: async () => {
    const m = await import('./ota.js');
    return m.formatOta(await m.runOtaBench());
  },
  peers: async () => {
    const m = await import('./peer-bench.js');
    return m.formatPeerBench(await m.runPeerBench());
  },
  diy: async () => {
    const m = await import('./diy-bench.js');
    return m.formatDiyBench(await m.runDiyBench());
  },
};

const FILE = fileURLToPath(new URL('../../BENCHMARKS.md', import.meta.url));

async function main(): Promise<void> {
  // Flags that take a value (storage, scale, devices19k, devices100k): their values are not benchmark names.
  const valued = ['--readings', '--devices', '--seconds', '--warmup', '--rate', '--latency-seconds', '--hubs', '--rounds', '--only', '--ramp', '--broker', '--per-sim', '--prime'];
  const wanted = process.argv.slice(2).filter((a, i, all) => !a.startsWith('-') && !valued.includes(all[i - 1] ?? ''));
  const flags = process.argv.slice(2).filter((a) => !wanted.includes(a)).join(' ');
  // devices19k and devices100k are heavy (19,000 and 100,000 devices, a raised open-file limit): run by name only, not in `all`.
  const heavy = ['devices19k', 'devices100k'];
  const names = wanted.length === 0 || wanted.includes('all') ? Object.keys(BENCHES).filter((b) => !heavy.includes(b)) : wanted;
  for (const name of names) {
    if (!BENCHES[name]) {
      console.error(`unknown benchmark "${name}"; choose from ${Object.keys(BENCHES).join(', ')}, all`);
      process.exit(2);
    }
  }
  const machine = `${cpus().length} x ${cpus()[0]?.model.trim() ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
  if (!existsSync(FILE)) writeFileSync(FILE, '# Benchmarks\n\nAppended by `npm run bench`; newest last. Ratios are against a baseline run in the same script.\n');
  for (const name of names) {
    console.error(`running ${name} benchmark...`);
    const table = await BENCHES[name]!();
    console.log(table);
    appendFileSync(FILE, `\n## ${name} — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC\n\nCommand: \`npm run bench -- ${name}${flags ? ` ${flags}` : ''}\` · Machine: ${machine}\n\n${table}\n`);
  }
}

void main();
