import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig, type ConfigKey } from '../../hub/config.js';
import { Hub } from '../../hub/hub.js';
import { createLogger } from '../../hub/logger.js';

export interface HarnessOptions {
  dataDir?: string;
  overrides?: Partial<Record<ConfigKey, unknown>>;
  now?: () => number;
}

/** A real hub on 127.0.0.1, port 0, in a temp data dir; logs kept in memory for assertions. */
export async function startHub(opts: HarnessOptions = {}): Promise<{ hub: Hub; dataDir: string; logs: string[]; wssUrl: string; stop: () => Promise<void> }> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'hearth-test-'));
  const config = loadConfig({
    env: {},
    file: null,
    overrides: {
      dataDir,
      host: '127.0.0.1',
      port: 0,
      'mqtt.port': null,
      'mqtt.tlsPort': null,
      'mqtt.embedded': false,
      'log.level': 'debug',
      ...opts.overrides,
    },
  });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, done) {
      logs.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const hub = new Hub({ config, log: createLogger('debug', { pretty: false, destination: sink }), now: opts.now });
  try {
    await hub.start();
  } catch (err) {
    // For tests of start failures: what the hub logged, and where (the caller removes the directory).
    throw Object.assign(err as Error, { logs, dataDir });
  }
  return {
    hub,
    dataDir,
    logs,
    wssUrl: `wss://127.0.0.1:${hub.port}`,
    stop: async () => {
      await hub.stop();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
