// npm run bench -- mqtt: real devices -> hub (stored) -> embedded aedes -> one MQTT subscriber, each in its
// own process: latency from device send to subscriber at 1,000 and 20,000 readings/s, and readings/s
// delivered at full load on the lossless `<base>/<device>/readings` stream, beside the baseline of mqtt.js
// publishers straight into a bare aedes (bench/mqtt.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserStore } from '../hub/auth/user-store.js';
import { BENCH_DIR, percentile, provisionFleet, spawnNode, startHubProcess } from './proc.js';

export interface MqttE2eRow {
  scenario: string;
  offered: number;
  delivered: number;
  p50: number;
  p99: number;
}

async function prepare(dir: string, devices: number): Promise<string> {
  const file = provisionFleet(dir, devices, (i) => ({ id: `d${i}` }));
  const users = new UserStore({ dataDir: dir });
  users.load();
  await users.add('bench', 'bench-password', 'integration');
  return file;
}

async function scenario(name: string, rate: number, devices: number, seconds: number): Promise<MqttE2eRow> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-mqtt-'));
  try {
    const fleet = await prepare(dir, devices);
    const { child: hub, url: httpsUrl } = await startHubProcess(dir, ['--mqtt-port', '0', '--mqtt-tls-port', 'off', '--devices-max-frames-per-second', '100000']);
    const mqttLine = await hub.waitFor((l) => l.msg === 'MQTT bridge started');
    const mqttPort = (mqttLine.tcp as { port: number }).port;
    const sub = spawnNode(join(BENCH_DIR, 'mqtt-sub.js'), ['--url', `mqtt://127.0.0.1:${mqttPort}`, '--username', 'bench', '--password', 'bench-password', '--seconds', String(seconds + 6)]);
    await sub.waitFor((l) => l.ready === true);
    const url = httpsUrl.replace('https://', 'wss://');
    const args = ['--url', url, '--credentials', fleet, '--seconds', String(seconds), '--readings', '1', '--stamp'];
    if (rate > 0) args.push('--rate', String(rate));
    const load = spawnNode(join(BENCH_DIR, 'ingest-load.js'), args);
    await load.exited;
    await sub.exited;
    hub.proc.kill('SIGTERM');
    await hub.exited;
    const ticks = sub.lines.filter((l) => typeof l.count === 'number');
    const steady = ticks.filter((l) => Number(l.t) >= 4000);
    const first = steady[0];
    const last = steady.filter((l) => Number(l.t) <= (seconds + 1) * 1000).at(-1) ?? steady.at(-1);
    const delivered = first && last && last !== first ? ((Number(last.count) - Number(first.count)) / (Number(last.t) - Number(first.t))) * 1000 : 0;
    const lat = steady.flatMap((l) => (l.lat as number[]) ?? []).sort((a, b) => a - b);
    const offeredTicks = load.lines.filter((l) => typeof l.acked === 'number' && Number(l.t) >= 3000);
    const offered = offeredTicks.length >= 2
      ? ((Number(offeredTicks.at(-1)!.acked) - Number(offeredTicks[0]!.acked)) / (Number(offeredTicks.at(-1)!.t) - Number(offeredTicks[0]!.t))) * 1000
      : rate;
    return { scenario: name, offered, delivered, p50: percentile(lat, 50), p99: percentile(lat, 99) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runMqttE2eBench(): Promise<MqttE2eRow[]> {
  return [
    await scenario('1,000 readings/s (100 devices)', 1000, 100, 10),
    await scenario('20,000 readings/s (200 devices)', 20_000, 200, 10),
    await scenario('full load (200 devices, window 8)', 0, 200, 10),
  ];
}

export function formatMqttE2e(rows: MqttE2eRow[]): string {
  const k = (n: number) => Math.round(n).toLocaleString('en-US');
  return [
    '| device -> hub (stored) -> MQTT subscriber on `hearth/+/+` | readings/s acked by hub | readings/s at subscriber (`<device>/readings` stream) | latency p50 | latency p99 |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.scenario} | ${k(r.offered)} | ${k(r.delivered)} | ${r.p50.toFixed(2)} ms | ${r.p99.toFixed(2)} ms |`),
  ].join('\n');
}
