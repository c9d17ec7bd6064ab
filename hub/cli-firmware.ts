import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CONFIG_SCHEMA, dbPath, flagName, loadConfig } from './config.js';
import { FirmwareImages } from './firmware/firmware-images.js';
import { planRollout, type RolloutTarget } from './firmware/rollout-plan.js';
import { imageInfo, updateStatus } from './firmware/update-status.js';
import { HubStore } from './storage/hub-store.js';

/** Why `hearth firmware` refuses db.url: a hub on PostgreSQL has no firmware updates yet (docs/operations.md). */
export const PG_NO_FIRMWARE = 'firmware updates run on SQLite only for now: a hub on PostgreSQL (db.url) has none yet, so hearth firmware does not take db.url (unset HEARTH_DB_URL / --db-url to work on the SQLite database)';

class UsageError extends Error {
  readonly code = 'ERR_PARSE_ARGS_USAGE';
}

export const FIRMWARE_HELP = `Usage:
  hearth firmware add <file> --model <model> --version <version>
      Stores an image in <data-dir>/firmware (named by its SHA-256) for devices of that model (the model
      their HELLO reports, or their --type before the first HELLO).
  hearth firmware list [--json]
      Images, and the newest updates with their state.
  hearth firmware update <device> --version <version>
  hearth firmware update --model <model> --version <version>
      Queues an update; a running hub starts it within a second (firmware.concurrency at once).
Options: --data-dir <dir> (default ./data), --config <file>`;

/**
 * `hearth firmware add|list|update`, parsed apart from the other commands because its `--version` takes a
 * value. Works on the database and data directory directly, like `hearth device`; resolves with the exit code.
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
  if (config['db.url'] !== null) throw new Error(PG_NO_FIRMWARE);
  const store = new HubStore({ path: dbPath(config) });
  store.open();
  try {
    switch (sub) {
      case 'add': {
        const [file] = args;
        if (!file || args.length > 1 || !values.model || !values.version) throw new UsageError('usage: hearth firmware add <file> --model <model> --version <version>');
        const image = new FirmwareImages(config.dataDir, () => store.firmware).add(new Uint8Array(readFileSync(file)), values.model, values.version, Date.now());
        say(`firmware ${image.model} ${image.version} stored: ${image.size} bytes, sha256 ${image.sha256}`);
        return 0;
      }
      case 'list': {
        if (args.length > 0) throw new UsageError('usage: hearth firmware list [--json]');
        const images = store.firmware.images().map(imageInfo);
        const updates = store.firmware.updates(200).map(updateStatus);
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
        const devices = store.listDevices().filter((d) => d.revokedAt === null);
        const plan = planRollout(devices, target, values.version, store.firmware);
        for (const c of plan.create) {
          const id = store.firmware.createUpdate(c.deviceId, c.image, c.fromVersion, Date.now());
          say(`update ${id}: ${c.deviceId} ${c.fromVersion || '?'} -> ${c.image.version} queued`);
        }
        for (const s of plan.skipped) say(`${s.device}: skipped, ${s.reason}`);
        return 0;
      }
      default:
        throw new UsageError('usage: hearth firmware add|list|update (see hearth firmware --help)');
    }
  } finally {
    store.close();
  }
}
