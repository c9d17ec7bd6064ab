import type { Capability } from '../../protocol/types.js';

export type ParsedCommandPayload = { ok: true; input: unknown } | { ok: false; problem: string };

const MAX_COMMAND_PAYLOAD_BYTES = 4096;

/**
 * Reads a command payload: a plain value (`21.5`, `ON`, `auto`), a JSON value, or `{"value": ...}`. The result
 * goes to DeviceFacade.sendCommand, which checks it against the capability. Text capabilities take the payload
 * as-is unless it is a JSON string, so that `123` stays the text "123".
 */
export function parseCommandPayload(cap: Capability | undefined, payload: Uint8Array): ParsedCommandPayload {
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
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: true, input: text };
  }
  if (json === null || Array.isArray(json)) {
    return { ok: false, problem: `payload must be a value or {"value": ...}, got ${preview(text)}` };
  }
  if (typeof json === 'object') {
    if (!Object.hasOwn(json, 'value')) {
      return { ok: false, problem: `JSON object payload needs a "value" field, got ${preview(text)}` };
    }
    return { ok: true, input: (json as { value: unknown }).value };
  }
  const textual = cap?.valueType === 'string' || cap?.valueType === 'enum';
  if (textual && typeof json !== 'string') return { ok: true, input: text };
  return { ok: true, input: json };
}

function preview(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}
