import { DEVICE_ID_PATTERN } from '../../protocol/constants.js';

// Device ids follow DEVICE_ID_PATTERN [FP-2.1]; the hub also keeps some for its own topics.
/** Ids the MQTT topic tree uses for itself (`<base>/bridge/...`). */
const RESERVED_IDS = new Set(['bridge']);

/** Why `id` cannot name a device, or null when it can. */
export function deviceIdProblem(id: string): string | null {
  if (!DEVICE_ID_PATTERN.test(id)) return `device id "${id}" must be 1-64 characters of A-Z a-z 0-9 _ . -`;
  if (RESERVED_IDS.has(id)) return `device id "${id}" is reserved for the hub's own MQTT topics`;
  return null;
}
