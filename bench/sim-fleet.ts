// npm run bench -- sim: one hearth-sim process drives 10,000 devices (1 reading/s each) over wss against a
// hub in its own process; reports the simulator's own CPU and memory and whether anything was lost.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { provisionFleet, spawnNode, startHubProcess } from './proc.js';

const SIM_CLI = fileURLToPath(new URL('../device-sim/cli.js', import.meta.url));

export interface SimFleetResult {
  devices: number;
  seconds: number;
  connected: number;
  acked: number;
  lost: number;
  cpuPercentOfOneCore: number;
  rssBytes: number;
  heapUsedBytes: number;
  ackP50: number | null;
  ackP99: number | null;
  exitCode: number | null;
}

export async function runSimFleetBench(opts: { devices?: number; seconds?: number } = {}): Promise<SimFleetResult> {
  const devices = opts.devices ?? 10_000;
  const seconds = opts.seconds ?? 45;
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-sim-'));
  try {
    const models = ['thermostat', 'light', 'smart_plug', 'motion_sensor', 'door_contact', 'air_quality'];
    const creds = provisionFleet(dir, devices, (i) => ({ id: `sim-${i}`, model: models[i % models.length]! }));
    const { child: hub, port } = await startHubProcess(dir, ['--mqtt-embedded', 'false']);
    const sim = spawnNode(SIM_CLI, ['--hub', `wss://127.0.0.1:${port}`, '--credentials', creds, '--ca', join(dir, 'tls', 'hub-cert.pem'), '--rate', '1', '--duration', `${seconds}s`, '--json']);
    const exitCode = await sim.exited;
    hub.proc.kill('SIGTERM');
    await hub.exited;
    const summary = sim.lines.find((l) => 'stats' in l) as { lostReadings: number; stats: { everConnected: number; acked: number; cpu: { percentOfOneCore: number }; memory: { rssBytes: number; heapUsedBytes: number }; ackLatencyMs: { p50: number | null; p99: number | null } } } | undefined;
    if (!summary) throw new Error(`hearth-sim printed no summary (exit ${exitCode})`);
    return {
      devices,
      seconds,
      connected: summary.stats.everConnected,
      acked: summary.stats.acked,
      lost: summary.lostReadings,
      cpuPercentOfOneCore: summary.stats.cpu.percentOfOneCore,
      rssBytes: summary.stats.memory.rssBytes,
      heapUsedBytes: summary.stats.memory.heapUsedBytes,
      ackP50: summary.stats.ackLatencyMs.p50,
      ackP99: summary.stats.ackLatencyMs.p99,
      exitCode,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatSimFleet(r: SimFleetResult): string {
  const mb = (n: number) => `${Math.round(n / 2 ** 20)} MiB`;
  return [
    '| hearth-sim, one process | result |',
    '| --- | --- |',
    `| devices over wss, 1 reading/s each, ${r.seconds} s (incl. connect ramp) | ${r.devices.toLocaleString('en-US')} (greeted by the hub: ${r.connected.toLocaleString('en-US')}) |`,
    `| frames acknowledged / readings lost | ${r.acked.toLocaleString('en-US')} / ${r.lost} (exit code ${r.exitCode}) |`,
    `| simulator CPU (share of one core, whole run) | ${r.cpuPercentOfOneCore.toFixed(0)}% |`,
    `| simulator memory | RSS ${mb(r.rssBytes)}, heap ${mb(r.heapUsedBytes)} |`,
    `| ACK latency seen by devices | p50 ${r.ackP50?.toFixed(1) ?? '-'} ms, p99 ${r.ackP99?.toFixed(1) ?? '-'} ms |`,
  ].join('\n');
}
