// Which devices a fleet has: from a count, a model mix, a scenario file or a credentials file. Pure
// functions over parsed input; reading the files is the CLI's job.
import { DEVICE_ID_PATTERN } from '../protocol/index.js';
import { MODELS, modelByName } from './models/index.js';

/** One device of a fleet, before it has a token. */
export interface DevicePlan {
  id: string;
  /** Model registry name. */
  model: string;
  /** Readings per second, overriding the fleet's. */
  rate?: number;
}

/** One device the hub knows, as `hearth device add --credentials` writes it. */
export interface Credential {
  id: string;
  token: string;
  model?: string;
}

/** A device ready to run: plan plus token. */
export interface DeviceSpec extends DevicePlan {
  token: string;
}

/** Bad input a user can fix (exit code 2 in the CLI). */
export class PlanError extends Error {
  override name = 'PlanError';
}

const MODEL_ALIASES: Record<string, string> = { plug: 'smart_plug', motion: 'motion_sensor', door: 'door_contact', contact: 'door_contact', air: 'air_quality' };

/** The registry name for a user-typed model name ('smart-plug', 'plug', 'Smart_Plug'), or undefined. */
export function resolveModelName(name: string): string | undefined {
  const key = name.trim().toLowerCase().replace(/-/g, '_');
  const canonical = MODEL_ALIASES[key] ?? key;
  return modelByName(canonical) === undefined ? undefined : canonical;
}

/** Parses `thermostat=10,light=20` into ordered [model, count] pairs; throws PlanError naming the problem. */
export function parseMix(text: string): [string, number][] {
  const pairs: [string, number][] = [];
  for (const part of text.split(',')) {
    const m = /^\s*([A-Za-z_-]+)\s*=\s*(\d+)\s*$/.exec(part);
    if (m === null) throw new PlanError(`--mix needs model=count pairs like thermostat=10,light=20, got "${text}"`);
    const model = resolveModelName(m[1]!);
    if (model === undefined) throw new PlanError(`--mix: unknown model "${m[1]}" (known: ${Object.keys(MODELS).join(', ')})`);
    const count = Number(m[2]);
    if (count > 0) pairs.push([model, count]);
  }
  if (pairs.length === 0) throw new PlanError(`--mix names no device, got "${text}"`);
  return pairs;
}

/** `count` devices spread round-robin over every model: `<prefix><model>-<n>`. */
export function planCount(count: number, idPrefix: string): DevicePlan[] {
  const names = Object.keys(MODELS);
  const mix = names.map((name, i): [string, number] => [name, Math.floor(count / names.length) + (i < count % names.length ? 1 : 0)]);
  return planMix(mix.filter(([, n]) => n > 0), idPrefix);
}

/** Devices of each model in the mix: `<prefix><model>-<n>`, n from 1, zero-padded per model. */
export function planMix(mix: [string, number][], idPrefix: string): DevicePlan[] {
  const plans: DevicePlan[] = [];
  for (const [model, count] of mix) {
    const width = String(count).length;
    for (let n = 1; n <= count; n++) plans.push({ id: checkId(`${idPrefix}${model}-${String(n).padStart(width, '0')}`, '--id-prefix'), model });
  }
  return plans;
}

/** Validates a scenario file's JSON: `[{ "id", "model", "rate"? }]`. */
export function parseScenario(json: unknown, source: string): DevicePlan[] {
  if (!Array.isArray(json)) throw new PlanError(`${source}: a scenario is a JSON or YAML array of { id, model, rate? }`);
  const seen = new Set<string>();
  return json.map((entry: unknown, i) => {
    const e = entry as { id?: unknown; model?: unknown; rate?: unknown };
    if (typeof e !== 'object' || e === null || typeof e.id !== 'string' || typeof e.model !== 'string') {
      throw new PlanError(`${source}[${i}]: needs string "id" and "model"`);
    }
    const model = resolveModelName(e.model);
    if (model === undefined) throw new PlanError(`${source}[${i}]: unknown model "${e.model}" (known: ${Object.keys(MODELS).join(', ')})`);
    if (e.rate !== undefined && (typeof e.rate !== 'number' || !(e.rate > 0))) throw new PlanError(`${source}[${i}]: "rate" must be a positive number`);
    const id = checkId(e.id, `${source}[${i}].id`);
    if (seen.has(id)) throw new PlanError(`${source}[${i}]: duplicate id "${id}"`);
    seen.add(id);
    return e.rate === undefined ? { id, model } : { id, model, rate: e.rate };
  });
}

/** Validates a credentials file's JSON: `{ "devices": [ { "id", "token", "model"? } ] }`. */
export function parseCredentials(json: unknown, source: string): Credential[] {
  const devices = (json as { devices?: unknown } | null)?.devices;
  if (!Array.isArray(devices)) throw new PlanError(`${source}: expected { "devices": [ { "id", "token", "model"? } ] }`);
  return devices.map((entry: unknown, i) => {
    const e = entry as { id?: unknown; token?: unknown; model?: unknown };
    if (typeof e !== 'object' || e === null || typeof e.id !== 'string' || typeof e.token !== 'string') {
      throw new PlanError(`${source}.devices[${i}]: needs string "id" and "token"`);
    }
    if (e.model !== undefined && typeof e.model !== 'string') throw new PlanError(`${source}.devices[${i}]: "model" must be a string`);
    return { id: checkId(e.id, `${source}.devices[${i}].id`), token: e.token, ...(e.model ? { model: e.model } : {}) };
  });
}

/**
 * The plan of a credentials-only fleet: every entry (or the first `count`), its model from the entry
 * when it names a known one, else round-robin over the models.
 */
export function planFromCredentials(credentials: Credential[], count?: number): DevicePlan[] {
  if (count !== undefined && count > credentials.length) {
    throw new PlanError(`--devices ${count} but the credentials file holds only ${credentials.length} devices`);
  }
  const names = Object.keys(MODELS);
  return credentials.slice(0, count ?? credentials.length).map((c, i) => ({
    id: c.id,
    model: (c.model !== undefined ? resolveModelName(c.model) : undefined) ?? names[i % names.length]!,
  }));
}

/** Joins plans with tokens; throws PlanError listing the devices that have none. */
export function attachTokens(plans: DevicePlan[], tokens: ReadonlyMap<string, string>): DeviceSpec[] {
  const missing = plans.filter((p) => !tokens.has(p.id)).map((p) => p.id);
  if (missing.length > 0) {
    const shown = missing.slice(0, 5).join(', ') + (missing.length > 5 ? `, and ${missing.length - 5} more` : '');
    throw new PlanError(`no token for ${shown}: pass --credentials <file> or --provision --admin-token <token>`);
  }
  return plans.map((p) => ({ ...p, token: tokens.get(p.id)! }));
}

function checkId(id: string, what: string): string {
  if (!DEVICE_ID_PATTERN.test(id)) throw new PlanError(`${what}: device id "${id}" is not 1-64 characters of A-Z a-z 0-9 _ . -`);
  return id;
}
