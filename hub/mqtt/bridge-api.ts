import type { Role } from '../auth/user-store.js';
import { deviceIdProblem } from '../devices/device-id.js';
import { parseDeviceChange, type DeviceAdmin, type DeviceFacade } from '../facade.js';
import type { JsonValue } from '../../protocol/value-form.js';
import { bridgeDevice } from './bridge-device.js';
import type { MqttLogger } from './logger.js';
import { BRIDGE_VERBS, type BridgeResponsePayload, type BridgeVerb, type TopicMessage, type Topics } from './topics.js';

export interface BridgeApiOptions {
  facade: DeviceFacade;
  /** Device management; null (benchmarks) answers every managing verb with an error. */
  admin: DeviceAdmin | null;
  topics: Topics;
  publish: (message: TopicMessage) => Promise<void>;
  logger: MqttLogger;
}

/** Verbs that need the admin role: they hand out or destroy credentials and data. */
const ADMIN_ONLY: ReadonlySet<BridgeVerb> = new Set(['device/add', 'device/remove', 'device/revoke']);

/** Who sent a request: an embedded-broker user's role, or 'external' (any client of an external broker). */
export type RequestSender = Role | 'external';

class Refusal extends Error {}

/**
 * `<base>/bridge/request/<verb>` with a JSON body, answered on `<base>/bridge/response/<verb>` with
 * `{"status":"ok","data":{...}}` or `{"status":"error","error":"...","data":{}}` and the request's
 * `transaction` echoed, as Zigbee2MQTT does. Every refusal is an answer; none closes the connection.
 * Clients of an external broker count as integration (that broker's ACL, not the hub, decides who they are),
 * so tokens are never handed out or devices deleted through a broker the hub does not control.
 */
export class BridgeApi {
  readonly #o: BridgeApiOptions;

  constructor(opts: BridgeApiOptions) {
    this.#o = opts;
  }

  /** Runs one request and publishes its response. */
  async handle(verb: string, payload: Uint8Array, sender: RequestSender, source: string): Promise<void> {
    let transaction: JsonValue | undefined;
    let response: BridgeResponsePayload;
    try {
      const body = parseBody(payload);
      transaction = body['transaction'] as JsonValue | undefined;
      response = { status: 'ok', data: await this.#run(verb, body, sender === 'external' ? 'integration' : sender) };
    } catch (err) {
      if (!(err instanceof Refusal)) this.#o.logger.error({ err, verb }, 'bridge request failed');
      const error = err instanceof Refusal ? err.message : 'internal error; see the hub log';
      response = { status: 'error', error, data: {} };
      this.#o.logger.info({ verb, source, error }, 'MQTT bridge request refused');
    }
    if (transaction !== undefined) response.transaction = transaction;
    await this.#o.publish({ kind: 'bridgeResponse', topic: this.#o.topics.bridgeResponse(verb), payload: response });
  }

  async #run(verb: string, body: Record<string, unknown>, role: Role): Promise<Record<string, unknown>> {
    if (!(BRIDGE_VERBS as readonly string[]).includes(verb)) throw new Refusal(`unknown request "${verb}"; verbs: ${BRIDGE_VERBS.join(', ')}`);
    const v = verb as BridgeVerb;
    if (ADMIN_ONLY.has(v) && role !== 'admin') throw new Refusal(`${v} needs the admin role (this client is ${role})`);
    const f = this.#o.facade;
    if (v === 'devices') return { devices: f.devices().map(bridgeDevice) };
    const admin = this.#o.admin;
    if (v === 'health_check') {
      const h = admin?.health() ?? { ok: true, storage: 'ok', devicesOnline: 0 };
      return { healthy: h.ok, storage: h.storage };
    }
    if (!admin) throw new Refusal(`${v} is not available on this bridge`);
    const id = body['id'];
    if (typeof id !== 'string' || id === '') throw new Refusal('id is required: the device id');
    switch (v) {
      case 'device/add': {
        const problem = deviceIdProblem(id);
        if (problem) throw new Refusal(problem);
        const name = optionalLabel(body, 'name') ?? id;
        const type = optionalLabel(body, 'type') ?? '';
        try {
          const { device, token } = await admin.provision(id, name, type);
          return { device: bridgeDevice(device), token };
        } catch (err) {
          if ((err as { code?: string }).code === 'HUB_ERR_DEVICE_EXISTS') throw new Refusal(`device "${id}" exists`);
          throw err;
        }
      }
      case 'device/rename': {
        const parsed = parseDeviceChange(body);
        if (!parsed.ok) throw new Refusal(parsed.problem);
        const device = await admin.rename(id, parsed.change);
        if (!device) throw new Refusal(`no device "${id}"`);
        return { device: bridgeDevice(device) };
      }
      case 'device/remove':
        if (!(await admin.remove(id))) throw new Refusal(`no device "${id}"`);
        return { id };
      case 'device/revoke':
        if (!(await admin.revoke(id))) throw new Refusal(`no device "${id}", or it is already revoked`);
        return { id };
    }
  }
}

/** An empty payload is an empty request; anything else must be a JSON object. */
function parseBody(payload: Uint8Array): Record<string, unknown> {
  const text = Buffer.from(payload).toString('utf8').trim();
  if (text === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Refusal('the request must be a JSON object');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Refusal('the request must be a JSON object');
  return parsed as Record<string, unknown>;
}

function optionalLabel(body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length > 64) throw new Refusal(`${key} must be a string of at most 64 characters`);
  return v;
}
