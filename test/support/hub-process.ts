import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The compiled hub CLI (npm test builds it first). */
export const HUB_CLI = fileURLToPath(new URL('../../dist/hub/cli.js', import.meta.url));

/** A free TCP port on 127.0.0.1 (so a restarted hub can listen where the devices reconnect). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The hub as its own process (`hearth start`), resolved once it logs that it listens. */
export async function spawnHub(dataDir: string, port: number, extra: string[] = []): Promise<{ proc: ChildProcess; exited: Promise<number | null> }> {
  const proc = spawn(process.execPath, [HUB_CLI, 'start', '--data-dir', dataDir, '--host', '127.0.0.1', '--port', String(port), '--mqtt-embedded', 'false', '--log-level', 'info', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      if (line.includes('"hub listening"')) resolve();
    });
    void exited.then((code) => reject(new Error(`hub exited (${code}) before listening: ${stderr}`)));
  });
  return { proc, exited };
}
