// Load for the ota benchmark, in its own process: the simulator's devices (every model accepts updates) from a
// credentials file, reading nothing (rate 0), printing {"connectedAll": n} and then every second
// {"t": ms, "online": n, "rebooted": devices back with a new firmware, "results": {status: count}}.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Fleet } from '../device-sim/fleet.js';

const { values } = parseArgs({ options: { url: { type: 'string' }, credentials: { type: 'string' }, seconds: { type: 'string', default: '600' } } });
const creds = JSON.parse(readFileSync(values.credentials!, 'utf8')) as { devices: { id: string; token: string; model: string }[] };
const started = performance.now();

async function main(): Promise<void> {
  const fleet = new Fleet({ hubUrl: values.url!, devices: creds.devices, rate: 0, insecure: true, rampPerSecond: 200, backoff: { baseMs: 100, capMs: 1000 } });
  let rebooted = 0;
  const results: Record<string, number> = {};
  await fleet.start();
  for (const d of fleet.devices) {
    d.ota.on('rebooted', () => (rebooted += 1));
    d.ota.on('result', ({ status }) => (results[status] = (results[status] ?? 0) + 1));
  }
  await fleet.waitConnected(creds.devices.length, 120_000);
  process.stdout.write(`${JSON.stringify({ connectedAll: creds.devices.length })}\n`);
  setInterval(() => {
    process.stdout.write(`${JSON.stringify({ t: performance.now() - started, online: fleet.stats().online, rebooted, results })}\n`);
  }, 1000);
  setTimeout(() => process.exit(0), Number(values.seconds) * 1000);
}

void main();
