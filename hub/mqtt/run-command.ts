import type { DeviceFacade } from '../facade.js';
import { parseCommandPayload } from './command-payload.js';
import type { MqttLogger } from './logger.js';
import type { CommandResultPayload } from './topics.js';

/** Parses a `<base>/<device>/set/<command>` payload and sends the command; resolves with what the result topic says. */
export async function runCommand(
  facade: DeviceFacade,
  log: MqttLogger,
  deviceId: string,
  command: string,
  payload: Uint8Array,
  source: string,
): Promise<CommandResultPayload> {
  const device = facade.device(deviceId);
  if (!device) return { id: null, status: 'invalid', message: `unknown device ${deviceId}` };
  const cap = device.capabilities.find((c) => c.name === command);
  const parsed = parseCommandPayload(cap, payload);
  if (!parsed.ok) return { id: null, status: 'invalid', message: parsed.problem };
  try {
    const outcome = await facade.sendCommand(deviceId, command, parsed.input, source);
    // CommandService numbers only the commands it sent; a refusal before sending carries 0 there, null here.
    return { id: outcome.commandId > 0 ? outcome.commandId : null, status: outcome.status, message: outcome.message };
  } catch (err) {
    log.error({ err, deviceId, command }, 'sendCommand threw');
    return { id: null, status: 'failed', message: 'internal error while sending the command' };
  }
}
