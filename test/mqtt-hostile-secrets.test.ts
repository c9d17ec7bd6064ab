import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { loadConfig, maskUrlCredentials, printableConfig } from '../hub/config.js';
import { eventually } from './support/eventually.js';
import { startHub } from './support/hub-harness.js';

// Issue #11 §3: credentials written into mqtt.url never reach the logs or `hearth config print`.

const URL_WITH_SECRET = 'mqtt://hub-user:s3cret-pw@127.0.0.1:1883';
const CLI = fileURLToPath(new URL('../dist/hub/cli.js', import.meta.url));

describe('mqtt.url credentials', () => {
  it('are masked by maskUrlCredentials and printableConfig', () => {
    expect(maskUrlCredentials(URL_WITH_SECRET)).toBe('mqtt://********@127.0.0.1:1883');
    expect(maskUrlCredentials('mqtts://broker.lan:8883')).toBe('mqtts://broker.lan:8883');
    expect(maskUrlCredentials('mqtt://only-user@h:1/x@y')).toBe('mqtt://********@h:1/x@y');
    const printed = printableConfig(loadConfig({ file: null, env: {}, overrides: { 'mqtt.url': URL_WITH_SECRET, 'mqtt.password': 'other' } }));
    expect(printed['mqtt.url']).toBe('mqtt://********@127.0.0.1:1883');
    expect(JSON.stringify(printed)).not.toContain('s3cret');
  });

  it('`hearth config print` does not show them', () => {
    const r = spawnSync(process.execPath, [CLI, 'config', 'print', '--mqtt-url', URL_WITH_SECRET], { encoding: 'utf8', cwd: tmpdir(), env: { PATH: process.env['PATH'] ?? '' } });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)['mqtt.url']).toBe('mqtt://********@127.0.0.1:1883');
    expect(r.stdout + r.stderr).not.toContain('s3cret');
  });

  it('the hub never logs them, connected or not', async () => {
    // A broker that accepts the TCP connection and hangs up: the hub logs its reconnects.
    const sink = net.createServer((s) => s.destroy());
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
    const port = (sink.address() as AddressInfo).port;
    const h = await startHub({ overrides: { 'mqtt.embedded': false, 'mqtt.url': `mqtt://hub-user:s3cret-pw@127.0.0.1:${port}` } });
    try {
      await eventually(() => h.logs.some((l) => l.includes('external MQTT broker')), { what: 'a log line about the external broker' });
      expect(h.logs.some((l) => l.includes('MQTT bridge started') && l.includes('********@127.0.0.1'))).toBe(true);
      expect(h.logs.filter((l) => l.includes('s3cret'))).toEqual([]);
    } finally {
      await h.stop();
      await new Promise<void>((resolve) => sink.close(() => resolve()));
    }
  });
});
