import type { Capability } from '../../protocol/types.js';
import { inputFromMqtt, type ParsedInput } from '../../protocol/value-form.js';

const MAX_COMMAND_PAYLOAD_BYTES = 4096;

/**
 * Reads a command payload of at most 4 KiB of UTF-8 as inputFromMqtt does (a plain value, a JSON value, or
 * `{"value": ...}`). The result goes to DeviceFacade.sendCommand, which checks it against the capability.
 */
export function parseCommandPayload(cap: Capability | undefined, payload: Uint8Array): ParsedInput {
  if (payload.length === 0) return { ok: false, problem: 'empty payload: send a value or {"value": ...}' };
  if (payload.length > MAX_COMMAND_PAYLOAD_BYTES) {
    return { ok: false, problem: `payload is larger than ${MAX_COMMAND_PAYLOAD_BYTES} bytes` };
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(payload);
  } catch {
    return { ok: false, problem: 'payload is not valid UTF-8' };
  }
  return inputFromMqtt(cap, text);
}
