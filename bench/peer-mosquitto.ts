// A real Mosquitto for the peer benchmarks: Debian's /usr/sbin/mosquitto (what most users run) with a
// generated config on a free loopback port, anonymous access and persistence off, in its own temp dir.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where Debian installs the broker; MOSQUITTO_BIN overrides it. */
export const MOSQUITTO_BIN = process.env['MOSQUITTO_BIN'] ?? '/usr/sbin/mosquitto';

export interface PeerMosquitto {
  port: number;
  url: string;
  proc: ChildProcess;
  /** SIGTERM, wait for the exit, remove the temp dir; safe to call twice. */
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
// A bench that throws past its finally (or is interrupted) must not leave a broker listening behind it.
process.once('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

/** Whether the Mosquitto binary is there (the peer rows are skipped, and say so, when it is not). */
export function mosquittoAvailable(): boolean {
  return existsSync(MOSQUITTO_BIN);
}

/** A free TCP port on 127.0.0.1 (listen on 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/** Starts Mosquitto; resolves once its listener accepts TCP connections. `extra` lines go into the config. */
export async function startMosquitto(extra: string[] = []): Promise<PeerMosquitto> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-mosquitto-'));
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'log_dest stderr', 'log_type error', 'log_type warning', ...extra, ''].join('\n'));
  const proc = spawn(MOSQUITTO_BIN, ['-c', conf], { stdio: ['ignore', 'ignore', 'inherit'] });
  live.add(proc);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (!stopped) {
      stopped = true;
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
      live.delete(proc);
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const deadline = Date.now() + 10_000;
  while (!(await canConnect(port))) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`mosquitto did not listen on 127.0.0.1:${port} (exit ${proc.exitCode})`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { port, url: `mqtt://127.0.0.1:${port}`, proc, stop };
}
