import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CONFIG_SCHEMA, dbPath, flagName, loadConfig } from './config.js';
import { FileImageBytes, FirmwareImages } from './firmware/firmware-images.js';
import { planRollout, type RolloutTarget } from './firmware/rollout-plan.js';
import { imageInfo, updateStatus } from './firmware/update-status.js';
import { HubStore } from './storage/hub-store.js';
import { PgStore } from './storage/pg/pg-store.js';
import type { HubStoreContract } from './storage/store-contract.js';

class UsageError extends Error {
  readonly code = 'ERR_PARSE_ARGS_USAGE';
}

export const FIRMWARE_HELP = `Usage:
  hearth firmware add <file> --model <model> --version <version>
      Stores an image for devices of that model (the model their HELLO reports, or their --type before the
      first HELLO): in <data-dir>/firmware (named by its SHA-256), or with --db-url in the PostgreSQL
      database, where every hub on it serves the image.
  hearth firmware list [--json]
      Images, and the newest updates with their state.
  hearth firmware update <device> --version <version>
  hearth firmware update --model <model> --version <version>
      Queues an update; a running hub starts it within a second (firmware.concurrency at once): on
      PostgreSQL, the hub the device is connected to.
Options: --data-dir <dir> (default ./data), --db-url <postgres://...> (the hubs' PostgreSQL database), --config <file>`;

/**
 * `hearth firmware add|list|update`, parsed apart from the other commands because its `--version` takes a
 * value. Works on the database (SQLite in the data directory, or PostgreSQL with db.url) directly, like
 * `hearth device`; resolves with the exit code.
 */
export async function runFirmwareCommand(argv: string[], say: (text: string) => void): Promise<number> {
  const configOptions = Object.fromEntries(Object.keys(CONFIG_SCHEMA).map((key) => [flagName(key), { type: 'string' as const }]));
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: { ...configOptions, config: { type: 'string' }, help: { type: 'boolean', short: 'h' }, model: { type: 'string' }, version: { type: 'string' }, json: { type: 'boolean' } },
  });
  const [sub, ...args] = positionals;
  if (values.help || !sub) return say(FIRMWARE_HELP), values.help ? 0 : 2;
  const all = values as Record<string, unknown>;
  const flags = Object.fromEntries(Object.keys(CONFIG_SCHEMA).map((key) => [flagName(key), all[flagName(key)] as string | undefined]));
  const config = loadConfig({ file: values.config, env: process.env, flags });
  const url = config['db.url'];
  const pg = url === null ? undefined : new PgStore({ url, poolSize: 1 });
  const store: HubStoreContract = pg ?? new HubStore({ path: dbPath(config) });
  await store.open();
  try {
    switch (sub) {
      case 'add': {
        const [file] = args;
        if (!file || args.length > 1 || !values.model || !values.version) throw new UsageError('usage: hearth firmware add <file> --model <model> --version <version>');
        const bytes = pg ? pg.firmwareBytes : new FileImageBytes(config.dataDir);
        const image = await new FirmwareImages(bytes, () => store.firmware).add(new Uint8Array(readFileSync(file)), values.model, values.version, Date.now());
        say(`firmware ${image.model} ${image.version} stored: ${image.size} bytes, sha256 ${image.sha256}`);
        return 0;
      }
      case 'list': {
        if (args.length > 0) throw new UsageError('usage: hearth firmware list [--json]');
        const images = (await store.firmware.images()).map(imageInfo);
        const updates = (await store.firmware.updates(200)).map(updateStatus);
        if (values.json) return say(JSON.stringify({ images, updates }, null, 2)), 0;
        if (images.length === 0) say('no firmware images; add one with: hearth firmware add <file> --model <m> --version <v>');
        for (const i of images) say(`${i.model.padEnd(28)} ${i.version.padEnd(12)} ${String(i.size).padStart(10)} bytes  ${i.sha256.slice(0, 16)}`);
        for (const u of updates) say(`update ${u.id}: ${u.device} ${u.fromVersion || '?'} -> ${u.version}  ${u.state}${u.state === 'transferring' ? ` ${u.percent}%` : ''}${u.reason ? `: ${u.reason}` : ''}`);
        return 0;
      }
      case 'update': {
        if (!values.version || (args.length === 1) === (values.model !== undefined) || args.length > 1) {
          throw new UsageError('usage: hearth firmware update <device>|--model <model> --version <version>');
        }
        const target: RolloutTarget = args.length === 1 ? { device: args[0]! } : { model: values.model! };
        const devices = (await store.listDevices()).filter((d) => d.revokedAt === null);
        const plan = await planRollout(devices, target, values.version, store.firmware);
        for (const c of plan.create) {
          const id = await store.firmware.createUpdate(c.deviceId, c.image, c.fromVersion, Date.now());
          say(`update ${id}: ${c.deviceId} ${c.fromVersion || '?'} -> ${c.image.version} queued`);
        }
        for (const s of plan.skipped) say(`${s.device}: skipped, ${s.reason}`);
        return 0;
      }
      default:
        throw new UsageError('usage: hearth firmware add|list|update (see hearth firmware --help)');
    }
  } finally {
    await store.close();
  }
}
