// Loader of `npm run bench -- devices19k`, run in its own process: a device-sim Fleet of one credentials slice
// (--from, --to) at --rate ticks per second per device. Prints one JSON line per second with the fleet's
// counters and this process's memory and CPU, and a last line {"final": true, ...} after SIGTERM stopped it.
// With --stream-rate R (ticks per second across this process's devices), the devices connect idle
// and start streaming at R ticks/s, spread round-robin over them, on SIGUSR2. --ramp D: dials per second
// of this process while connecting (default 1000; devices100k spreads its fleet-wide ramp over its loaders).
// --prime-seconds T: on SIGUSR2, first each device's first reading, spread evenly over T seconds, then the
// stream (a device's first reading creates its series in the database, one round trip each on a fresh hub).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Fleet } from '../device-sim/index.js';
import { everyDue } from './paced.js';

const { values } = parseArgs({
  options: { url: { type: 'string' }, credentials: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, rate: { type: 'string' }, 'stream-rate': { type: 'string' }, ca: { type: 'string' }, ramp: { type: 'string' }, 'prime-seconds': { type: 'string' } },
});
const all = (JSON.parse(readFileSync(values.credentials!, 'utf8')) as { devices: { id: string; token: string; model: string }[] }).devices;
const devices = all.slice(Number(values.from), Number(values.to));
const fleet = new Fleet({ hubUrl: values.url!, devices, rate: Number(values.rate), seed: Number(values.from), ca: readFileSync(values.ca!), rampPerSecond: Number(values.ramp ?? 1000) });

function line(extra: Record<string, unknown> = {}): string {
  const s = fleet.stats();
  const { online, everConnected, acked, generated, reconnects, watchdogTimeouts, refusals, pendingItems, ackLatencyMs, memory, cpu, hubErrors } = s;
  return `${JSON.stringify({ t: Date.now(), devices: devices.length, online, everConnected, acked, generated, reconnects, watchdogTimeouts, refusals, pendingItems, ackLatencyMs, memory, cpu, hubErrors, ...extra })}\n`;
}

const tick = setInterval(() => process.stdout.write(line()), 1000);

const streamRate = Number(values['stream-rate'] ?? 0);
const primeSeconds = Number(values['prime-seconds'] ?? 0);
if (streamRate > 0) {
  const stream = () => everyDue(streamRate, 10, (i) => fleet.devices[i % fleet.devices.length]!.sendNow());
  process.once('SIGUSR2', () => {
    if (primeSeconds <= 0) return void stream();
    const n = fleet.devices.length;
    const prime = everyDue(n / primeSeconds, 10, (i) => {
      if (i < n) fleet.devices[i]!.sendNow();
      else if (i === n) {
        clearInterval(prime);
        stream();
      }
    });
  });
}
process.once('SIGTERM', () => {
  clearInterval(tick);
  void fleet.stop({ ackTimeoutMs: 5000 }).then(() => {
    process.stdout.write(line({ final: true }));
    process.exit(0);
  });
});
void fleet.start();
